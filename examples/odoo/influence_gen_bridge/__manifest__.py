{
    "name": "InfluenceGen Bridge Companion",
    # No series prefix: Odoo 18 reads it as 18.0.1.0.0 and Odoo 19 as 19.0.1.0.0.
    "version": "1.0.0",
    "summary": "One transaction per result and per claim for influence-gen-bridge, under row locks",
    "description": """
Public methods on ``influence_gen.ai_image_request`` that influence-gen-bridge calls through
``execute_kw`` instead of sequences of ``create``/``write``/``search``:

* ``bridge_protocol()``: the protocol version and capabilities, so the bridge detects the addon;
* ``bridge_apply_result(reference, result)``: stores a result (image, failure or unusable image)
  in one transaction under the request's row lock;
* ``bridge_claim_queued(limit, fields)`` and ``bridge_claim(reference, fields)``: queued ->
  processing, atomically, skipping rows another transaction holds;
* ``bridge_finish_initiation(request_id, outcome, details)``: the end of an N8N initiation.

Only members of the group "InfluenceGen Bridge" may call them. Any number of bridges can then
share one database: Odoo, not the bridge, makes every result apply once and every request go
to N8N once.
""",
    "author": "influence-gen-bridge contributors",
    "category": "Productivity",
    "license": "LGPL-3",
    # By name: the product's own addon or the example one in this repository.
    "depends": ["influence_gen_base_models", "mail"],
    "data": [],
    "installable": True,
    "application": False,
    "auto_install": False,
}
