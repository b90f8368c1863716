"""How an upstream answer becomes structuredContent plus readable text, per view."""
