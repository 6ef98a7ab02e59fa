# The engine's image: the worker, the starter and the bmsync command line.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY workflows workflows
COPY activities activities
COPY domain domain
COPY backmarket backmarket
COPY database database
COPY sandbox sandbox
COPY bmsync bmsync
COPY runtime runtime
COPY api api
COPY worker.py starter.py ./
RUN pip install --no-cache-dir --constraint requirements.lock .

# Run as a user of its own; the state directory holds generated keys if no
# BMSYNC_SECRET_KEY / BMSYNC_PAYLOAD_KEY is given.
RUN useradd --create-home bmsync && mkdir /state && chown bmsync /state
USER bmsync
ENV BMSYNC_STATE_DIR=/state

CMD ["python", "worker.py"]
