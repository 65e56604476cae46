"""Built-in models (registered by name). Placeholder: filled by the training recipes."""
