"""Thumbnail pipeline: download with limits, guarded decode, disk cache, killable workers."""
