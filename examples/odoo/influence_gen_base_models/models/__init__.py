from . import ai_image_request
from . import generated_image
