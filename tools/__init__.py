"""Developer tools (not part of the engine): golden-case checkers and the like."""
