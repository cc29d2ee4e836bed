"""The companion protocol of influence-gen-bridge, on ``influence_gen.ai_image_request``.

Every public ``bridge_*`` method is one unit of work in one transaction: Odoo commits the whole
``execute_kw`` call or nothing. Each first checks that the caller is in the bridge group, then
locks the request row (``SELECT ... FOR UPDATE``; ``SKIP LOCKED`` for claims) before deciding
anything, so calls about one request from any number of bridges are serialized by PostgreSQL.

Under Odoo's REPEATABLE READ isolation, a call that waited on the lock of a transaction which then
changed the row fails with a serialization error; Odoo's RPC layer rolls it back and runs it again
(up to 5 times, after a short random pause), and the new run sees the committed change. That is
how a second delivery of a result, sent while the first one was being applied, answers
"duplicate".

The decisions are those of the bridge's generic pipeline (``src/pipeline/mod.rs``) and the answers
those of the Odoo emulator's twin (``tests/testkit/src/companion/``): change the three together.
No ``sudo()``: the bridge group's own rights (read, write and create on both models, attachments
through Internal User) are all these methods need. Error messages are addressed to the bridge (its
logs, its ``check``), so they are plain English, never translated: the same text whatever the
bridge user's language, and the same as the emulator's.
"""

import base64
import binascii
import hashlib
import re

from markupsafe import Markup

from odoo import api, models
from odoo.exceptions import AccessError, UserError
from odoo.modules.module import get_manifest
from odoo.tools import SQL

BRIDGE_GROUP = "influence_gen_base_models.group_influence_gen_bridge"
PROTOCOL_VERSION = 1
CAPABILITIES = ["apply_result", "claim", "finish_initiation"]
IMAGE_MODEL = "influence_gen.generated_image"
MAX_CLAIM = 100
# Ids are PostgreSQL integers: a larger one names no request.
MAX_ID = 2**31 - 1
SUCCESS_KEYS = {"kind", "image_base64", "sha256", "mimetype", "file_format", "width", "height",
                "file_size"}
FAILURE_KEYS = {"kind", "error_details"}
RESULT_KEYS = {"success": SUCCESS_KEYS, "failure": FAILURE_KEYS, "rejected": FAILURE_KEYS}
FINISH_OUTCOMES = ("sent", "failed", "retry", "unknown")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
FILE_FORMAT = re.compile(r"[a-z0-9]{1,10}")


class AiImageRequest(models.Model):
    _inherit = "influence_gen.ai_image_request"

    @api.model
    def bridge_protocol(self):
        """The protocol this addon speaks, so the bridge can detect it."""
        self._bridge_check_caller("bridge_protocol")
        return {
            "name": "influence_gen_bridge",
            "version": PROTOCOL_VERSION,
            "module_version": get_manifest("influence_gen_bridge")["version"],
            "capabilities": list(CAPABILITIES),
        }

    @api.model
    def bridge_apply_result(self, reference, result):
        """Applies one N8N result (an image, a failure or an unusable image) to its request."""
        self._bridge_check_caller("bridge_apply_result")
        kind = _result_kind(result)
        image = _verified_image(result) if kind == "success" else None
        error_details = None if image else _error_details(result)
        request = self._bridge_find(reference)
        if not request or not request._bridge_lock():
            return {"outcome": "unknown_request"}
        if image:
            return request._bridge_store_image(result, image)
        return request._bridge_record_failure(kind, error_details)

    @api.model
    def bridge_claim_queued(self, limit, fields):
        """Claims up to ``limit`` queued requests (oldest id first) that nobody else holds."""
        self._bridge_check_caller("bridge_claim_queued")
        if not _is_int(limit) or not 1 <= limit <= MAX_CLAIM:
            raise UserError(f"limit must be an integer from 1 to {MAX_CLAIM}.")
        fields = _field_names(self, fields)
        self.env.cr.execute(SQL(
            "SELECT id FROM %s WHERE status = 'queued' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            SQL.identifier(self._table), limit,
        ))
        claimed = self.browse([row[0] for row in self.env.cr.fetchall()])
        claimed.write({"status": "processing", "error_details": False})
        return claimed.read(fields)

    @api.model
    def bridge_claim(self, reference, fields):
        """Claims one request if it is queued and nobody else holds it."""
        self._bridge_check_caller("bridge_claim")
        fields = _field_names(self, fields)
        request = self._bridge_find(reference)
        if not request:
            return {"outcome": "unknown_request"}
        # Held by another transaction (a claim, a result being applied): not ours to take. Its
        # status is then the last committed one, which may still read "queued".
        if not request._bridge_lock(skip_locked=True) or request.status != "queued":
            return {"outcome": "not_queued", "status": request.status}
        request.write({"status": "processing", "error_details": False})
        return {"outcome": "claimed", "request": request.read(fields)[0]}

    @api.model
    def bridge_finish_initiation(self, request_id, outcome, details):
        """Records how sending a claimed (``processing``) request to N8N ended."""
        self._bridge_check_caller("bridge_finish_initiation")
        if not _is_int(request_id) or request_id <= 0:
            raise UserError("request_id must be a positive integer.")
        if outcome not in FINISH_OUTCOMES:
            raise UserError(f"outcome must be one of {', '.join(FINISH_OUTCOMES)}.")
        if details is not False and details is not None and not isinstance(details, str):
            raise UserError("details must be a string.")
        request = self._bridge_find({"field": "id", "value": request_id})
        if not request or not request._bridge_lock():
            return {"outcome": "unknown_request"}
        if request.status != "processing":
            return {"outcome": "not_processing", "status": request.status}
        request._bridge_finish(outcome, details or "")
        return {"outcome": "finished", "status": request.status}

    # Steps, each on one locked request.

    def _bridge_store_image(self, result, image):
        self.ensure_one()
        if self.status == "completed":
            linked = self.generated_image_id
            if linked and linked.hash_value == result["sha256"]:
                return {"outcome": "duplicate", "request_id": self.id, "image_id": linked.id,
                        "attachment_id": _attachment_id(linked)}
            return {"outcome": "conflict", "request_id": self.id, "reason": "a different image"}
        generated = self.env[IMAGE_MODEL].create({
            "request_id": self.id,
            "storage_type": "ir.attachment",
            "hash_value": result["sha256"],
            "file_format": result["file_format"],
            "file_size": result["file_size"],
            "width": result["width"],
            "height": result["height"],
            "retention_category": self._bridge_retention_category(),
        })
        # image_no_postprocess: stored byte for byte, never resized by base.image_autoresize_*.
        attachment = self.env["ir.attachment"].with_context(image_no_postprocess=True).create({
            "name": f"ai_gen_{self.id}_{result['file_format']}",
            "raw": image,  # the bytes already decoded from image_base64
            "mimetype": result["mimetype"],
            "res_model": IMAGE_MODEL,
            "res_id": generated.id,
        })
        link = {"storage_identifier": str(attachment.id)}
        if "attachment_id" in generated._fields:
            link["attachment_id"] = attachment.id
        generated.write(link)
        self.write({"status": "completed", "generated_image_id": generated.id,
                    "error_details": False})
        self._bridge_note("AI image stored: {}×{} {}, {} bytes, SHA-256 {}".format(
            result["width"], result["height"], result["file_format"].upper(),
            result["file_size"], result["sha256"][:16]))
        return {"outcome": "completed", "request_id": self.id, "image_id": generated.id,
                "attachment_id": attachment.id, "checksum": attachment.checksum,
                "stored_size": attachment.file_size}

    def _bridge_record_failure(self, kind, error_details):
        self.ensure_one()
        if self.status == "completed":
            what = "an unusable one" if kind == "rejected" else "a failure"
            return {"outcome": "conflict", "request_id": self.id,
                    "reason": f"an image; {what} cannot replace it"}
        if self.status == "failed" and self.error_details == error_details:
            return {"outcome": "duplicate", "request_id": self.id}
        self.write({"status": "failed", "error_details": error_details})
        self._bridge_note(f"AI image generation failed: {_first_line(error_details)}")
        return {"outcome": "failure_recorded", "request_id": self.id}

    def _bridge_finish(self, outcome, details):
        self.ensure_one()
        if outcome == "failed":
            self.write({"status": "initiation_failed", "error_details": details or False})
            self._bridge_note(f"AI image generation could not be started: {_first_line(details)}")
        elif outcome == "retry":
            self.write({"status": "queued"})
        elif outcome == "unknown":
            self._bridge_note(
                f"N8N may or may not have started the AI image generation: {_first_line(details)}")

    # Helpers.

    def _bridge_check_caller(self, method):
        if not self.env.user.has_group(BRIDGE_GROUP):
            raise AccessError(
                f"Only members of the group {BRIDGE_GROUP} may call {self._name}.{method}.")

    def _bridge_find(self, reference):
        """The request a reference names (as the caller may read it), or an empty recordset."""
        if not isinstance(reference, dict) or set(reference) != {"field", "value"}:
            raise UserError('A reference is {"field": ..., "value": ...}.')
        field, value = reference["field"], reference["value"]
        if field == "id":
            if not _is_int(value) or value <= 0:
                raise UserError("A reference by id needs a positive integer value.")
            if value > MAX_ID:
                return self.browse()
        else:
            definition = self._fields.get(field) if isinstance(field, str) else None
            if definition is None or definition.type != "char":
                raise UserError(f"A reference field must be id or a char field of {self._name}.")
            if not isinstance(value, str) or not value:
                raise UserError(f"A reference by {field} needs a non-empty string value.")
        return self.search([(field, "=", value)], limit=1, order="id")

    def _bridge_lock(self, skip_locked=False):
        """Locks this request's row; False when another transaction holds it (``skip_locked``)
        or it was deleted meanwhile."""
        self.ensure_one()
        self.env.cr.execute(SQL(
            "SELECT id FROM %s WHERE id = %s FOR UPDATE%s",
            SQL.identifier(self._table), self.id, SQL(" SKIP LOCKED" if skip_locked else ""),
        ))
        locked = bool(self.env.cr.fetchone())
        self.invalidate_recordset()
        return locked

    def _bridge_retention_category(self):
        if self.campaign_id:
            return f"campaign_asset_{self.campaign_id.id}"
        return "personal_generation"

    def _bridge_note(self, note):
        """An internal note in the chatter, as message_post's plain-text body looks (``<p>…</p>``),
        without its recipient computation (a note notifies nobody). Unlike message_post it needs
        no sender email, so it cannot fail the call whose work is done."""
        self._message_log(body=Markup("<p>%s</p>") % note, message_type="comment")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _first_line(text):
    return text.split("\n", 1)[0].removesuffix("\r")


def _attachment_id(image):
    if "attachment_id" in image._fields and image.attachment_id:
        return image.attachment_id.id
    identifier = image.storage_identifier or ""
    return int(identifier) if identifier.isdigit() else False


def _field_names(model, fields):
    if (not isinstance(fields, list) or not fields
            or not all(isinstance(name, str) for name in fields)):
        raise UserError("fields must be a non-empty list of field names.")
    unknown = [name for name in fields if name not in model._fields]
    if unknown:
        # Checked here, before any claim: Odoo's own read words this differently from one
        # series to the next, and on no record at all it would not check.
        raise UserError(f"unknown fields of {model._name}: {', '.join(unknown)}.")
    return fields


def _result_kind(result):
    kind = result.get("kind") if isinstance(result, dict) else None
    keys = RESULT_KEYS.get(kind) if isinstance(kind, str) else None
    if keys is None:
        raise UserError('A result is a dict whose "kind" is success, failure or rejected.')
    if set(result) != keys:
        raise UserError(f"A {kind} result has exactly the keys {', '.join(sorted(keys))}.")
    return kind


def _error_details(result):
    details = result["error_details"]
    if not isinstance(details, str) or not details:
        raise UserError("error_details must be a non-empty string.")
    return details


def _verified_image(result):
    """The image bytes, checked against the sizes and hash the bridge measured."""
    for key in ("image_base64", "sha256", "mimetype", "file_format"):
        if not isinstance(result[key], str) or not result[key]:
            raise UserError(f"{key} must be a non-empty string.")
    for key in ("width", "height", "file_size"):
        if not _is_int(result[key]) or result[key] <= 0:
            raise UserError(f"{key} must be a positive integer.")
    if not SHA256_HEX.fullmatch(result["sha256"]):
        raise UserError("sha256 must be 64 lower-case hexadecimal digits.")
    if not FILE_FORMAT.fullmatch(result["file_format"]):
        raise UserError("file_format must be 1 to 10 lower-case letters or digits.")
    mimetype = result["mimetype"]
    if not mimetype.startswith("image/") or "svg" in mimetype:
        raise UserError("mimetype must be an image type other than SVG.")
    try:
        image = base64.b64decode(result["image_base64"], validate=True)
    except binascii.Error:
        raise UserError("image_base64 is not valid base64.") from None
    if len(image) != result["file_size"]:
        raise UserError(
            f"image_base64 holds {len(image)} bytes, file_size says {result['file_size']}.")
    if hashlib.sha256(image).hexdigest() != result["sha256"]:
        raise UserError("The image's SHA-256 is not the sha256 given.")
    return image
