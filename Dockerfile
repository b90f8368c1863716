FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY tool_schemas ./tool_schemas
COPY extraction_kits ./extraction_kits
RUN pip install . && useradd --create-home --uid 10001 aai \
    && mkdir -p /data && chown aai:aai /data && chmod 0700 /data

USER aai
EXPOSE 8000
# The durable store (a SQLite file, unless AAI_MCP_DATABASE_URL names a PostgreSQL database) lives
# in /data: mount a volume there, or revocations are lost with the container.
ENV AAI_MCP_HOST=0.0.0.0 AAI_MCP_PORT=8000 AAI_MCP_DATA_DIR=/data
VOLUME ["/data"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD python -c "import os,sys,urllib.request as u; port = os.environ.get('AAI_MCP_PORT', '8000'); sys.exit(u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"

CMD ["aai-mcp", "serve"]
