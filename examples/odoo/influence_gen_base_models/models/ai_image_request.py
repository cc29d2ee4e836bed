"""The AI image generation request: what a user asked for and where it stands.

The field names, types, required flags and selection values are a contract with
influence-gen-bridge (and with the recorded Odoo 18 transcripts in its test fixtures): change
them only together with the bridge.
"""

import uuid

from odoo import fields, models


def _new_uuid(_records):
    # Odoo calls a field default with the (empty) recordset as its only argument.
    return str(uuid.uuid4())


class AiImageRequest(models.Model):
    _name = "influence_gen.ai_image_request"
    _description = "AI Image Generation Request"
    _inherit = ["mail.thread"]
    _rec_name = "prompt"
    # Newest first in lists, as the bridge's Odoo emulator has it. The bridge itself always
    # passes its own order (its sweeper: oldest first, "create_date asc, id asc").
    _order = "create_date desc, id desc"

    prompt = fields.Text(required=True)
    negative_prompt = fields.Text()
    model_id = fields.Char(string="Model ID", help="Identifier of the AI model, e.g. sdxl-1.0.")
    resolution = fields.Char(help="For example 1024x1024.")
    aspect_ratio = fields.Char(help="For example 1:1.")
    seed = fields.Integer()
    inference_steps = fields.Integer()
    cfg_scale = fields.Float(string="CFG Scale")
    status = fields.Selection(
        [
            ("queued", "Queued"),
            ("processing", "Processing"),
            ("completed", "Completed"),
            ("failed", "Failed"),
            ("initiation_failed", "Initiation Failed"),
        ],
        required=True,
        default="queued",
        tracking=True,
    )
    error_details = fields.Text()
    generated_image_id = fields.Many2one("influence_gen.generated_image", string="Generated Image")
    campaign_id = fields.Many2one("res.partner", string="Campaign")
    intended_use = fields.Selection(
        [("personal", "Personal"), ("campaign", "Campaign")],
        default="personal",
    )
    user_id = fields.Many2one("res.users", string="User", default=lambda self: self.env.user)
    # The id the bridge sends to N8N and finds the request by when the result comes back.
    uuid = fields.Char(string="UUID", default=_new_uuid, readonly=True, copy=False)

    # The same unique index on Odoo 18 and 19: Odoo 19 ignores _sql_constraints (it wants
    # models.Constraint), and Odoo 18 has no models.Constraint.
    if hasattr(models, "Constraint"):
        _uuid_unique = models.Constraint("unique(uuid)", "The request UUID must be unique.")
    else:
        _sql_constraints = [
            ("uuid_unique", "unique(uuid)", "The request UUID must be unique."),
        ]
