"""Structured extraction with evidence: kits (extraction_kits/*.yaml), the LLM Gateway request built
from a kit, the answer checked against the kit and every quote against the transcript."""
