"""Config schema, loading and validation."""

from modelyard.config.load import load_config, validate

__all__ = ["load_config", "validate"]
