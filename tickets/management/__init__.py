"""Management commands of the ticket domain."""
