"""AssemblyAI's completion webhooks: the front door that receives them (`endpoint`), the capture of
each finished transcript into the archive (`background_capture`), the webhook the gateway asks for
on the transcripts its tools create (`submission`), and the waiters it wakes (`wakeups`)."""
