"""The database beside the backend (manual B3–B4): its backup, and a restore from one."""
