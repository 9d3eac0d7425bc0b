"""Gallery Editor: arrange the image galleries of Kelviq catalog products."""

__version__ = "0.1.0"

APP_NAME = "Gallery Editor"
ORGANIZATION_NAME = "Kelviq Tools"
