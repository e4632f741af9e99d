"""Personal data: which fields are personal, masking them for agents, revealing them."""
