"""A generated image: metadata plus a link to the ir.attachment that holds the bytes.

Field names and types are a contract with influence-gen-bridge (see ai_image_request.py).
"""

from odoo import _, api, fields, models


class GeneratedImage(models.Model):
    _name = "influence_gen.generated_image"
    _description = "AI Generated Image"
    _order = "create_date desc, id desc"

    request_id = fields.Many2one(
        "influence_gen.ai_image_request", string="Request", ondelete="cascade", index=True
    )
    storage_identifier = fields.Char(
        help="The id of the ir.attachment that holds the bytes, e.g. 42 (SDS 3.7)."
    )
    storage_type = fields.Selection(
        [("ir.attachment", "Odoo Attachment"), ("external", "External Storage")]
    )
    file_format = fields.Char(help="For example png or jpeg.")
    file_size = fields.Integer(help="Size in bytes.")
    width = fields.Integer(help="Width in pixels.")
    height = fields.Integer(help="Height in pixels.")
    hash_value = fields.Char(help="Hash of the image bytes, as computed by the bridge.")
    retention_category = fields.Char()
    usage_rights = fields.Char()
    attachment_id = fields.Many2one("ir.attachment", string="Attachment", ondelete="set null")

    @api.depends("request_id")
    def _compute_display_name(self):
        for image in self:
            if not image.id:
                image.display_name = _("New image")
            elif image.request_id:
                image.display_name = _(
                    "Image %(image)s of request %(request)s",
                    image=image.id,
                    request=image.request_id.id,
                )
            else:
                image.display_name = _("Image %(image)s", image=image.id)
