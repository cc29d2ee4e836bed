from . import ai_image_request
