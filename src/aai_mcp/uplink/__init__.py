"""Upload links: the front door a person opens to send one file (the page, PUT/POST), and the service
every front door uses to create, fill and wait for links."""
