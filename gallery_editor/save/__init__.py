"""Saving a product's gallery: the save engine and its request, progress and report types."""

from gallery_editor.save.engine import SaveEngine, SaveProgress, SaveReport, SaveRequest, SaveStatus

__all__ = ["SaveEngine", "SaveProgress", "SaveReport", "SaveRequest", "SaveStatus"]
