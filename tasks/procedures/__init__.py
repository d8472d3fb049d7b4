"""Operator tasks that are neither a deploy nor setup: `fab health`, the deploy lock."""
