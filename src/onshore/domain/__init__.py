"""Plain typed values shared by every layer; standard library only."""
