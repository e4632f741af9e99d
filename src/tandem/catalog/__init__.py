"""Service catalog: the processes a client outsources and the forms their work items follow."""
