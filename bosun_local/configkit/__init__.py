"""The config toolkit: one YAML reader with file/line/key errors, strict environment-variable parsing."""
