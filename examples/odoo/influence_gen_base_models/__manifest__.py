{
    "name": "InfluenceGen Base Models",
    # No series prefix: Odoo 18 reads it as 18.0.1.0.0 and Odoo 19 as 19.0.1.0.0, so the same
    # files install on both (a "18.0." prefix makes Odoo 19 skip the module silently).
    "version": "1.0.0",
    "summary": "AI image generation requests and generated images, driven by influence-gen-bridge",
    "description": """
Defines the two models that the influence-gen-bridge daemon reads and writes over JSON-RPC:

* ``influence_gen.ai_image_request``: a prompt and its generation parameters, with a tracked
  status (queued, processing, completed, failed, initiation_failed) and a chatter;
* ``influence_gen.generated_image``: the metadata of a generated image and its ir.attachment.

Also ships the "InfluenceGen Bridge" group for the bridge's service user, a read-only viewer
group, minimal views and an inactive automation rule that notifies the bridge when a request is
created.
""",
    "author": "influence-gen-bridge contributors",
    "category": "Productivity",
    "license": "LGPL-3",
    "depends": ["base", "mail", "base_automation"],
    "data": [
        "security/influence_gen_security.xml",
        "security/ir.model.access.csv",
        "views/ai_image_request_views.xml",
        "views/generated_image_views.xml",
        "views/menus.xml",
        "data/automation_rule.xml",
    ],
    "installable": True,
    "application": True,
    "auto_install": False,
}
