"""The settings model of every built-in category, one module each, apart from the
implementations so that config validation imports these without any instructor code."""
