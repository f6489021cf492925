"""Security: customers isolated from each other, stored content escaped, uploads and production settings."""
