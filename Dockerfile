# syntax=docker/dockerfile:1
# The chat app on vLLM's official image. The app is the one entrypoint: it starts the
# vLLM server inside the container, watches it, and restarts it (docs/deploy.md).
#
#   docker build -t deepseek-r1-chat .                                  # weights fetched on first start
#   docker build --build-arg BAKE_WEIGHTS=1 -t deepseek-r1-chat:baked . # weights inside the image

# Checkpoint to serve: a Hugging Face id, or a ModelScope id with MODEL_SOURCE=modelscope.
ARG MODEL_ID=casperhansen/deepseek-r1-distill-qwen-1.5b-awq
# 1: download the weights at build time (into /opt/models/<MODEL_ID>, outside the volume).
ARG BAKE_WEIGHTS=0

# vLLM 0.32.0 is the newest release whose requirements resolve together with
# requirements.txt (0.33.0 needs pillow>=13, gradio 6.31 needs pillow<13); docs/deploy.md.
FROM vllm/vllm-openai:v0.32.0 AS app
ARG MODEL_ID

WORKDIR /app

# Dependencies before the source, so this layer is rebuilt only when requirements change.
# Constrained to the image's own vllm and torch: pip may add packages, never swap the engine.
# PIP_BREAK_SYSTEM_PACKAGES: in case the image's Python is marked externally managed (PEP 668);
# the image is this one application's environment.
COPY requirements.txt ./
RUN python3 -c "from importlib.metadata import version; print(*(f'{n}=={version(n)}' for n in ('vllm', 'torch')), sep='\n')" \
        > /tmp/image-pins.txt \
    && PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir -c /tmp/image-pins.txt -r requirements.txt \
    && rm /tmp/image-pins.txt

COPY app.py ./
COPY webapp ./webapp
COPY static ./static

# MODEL is a hub id: the engine downloads it on first start into HF_HOME, on the models
# volume, so it is fetched once per volume. The log goes where the source article reads it.
ENV MODEL=${MODEL_ID} \
    HF_HOME=/models/hf \
    VLLM_CACHE_ROOT=/models/vllm-cache \
    APP_HOST=0.0.0.0 \
    DATA_DIR=/data \
    VLLM_LOG_FILE=/root/workspace/deepseek_qwen.log \
    PYTHONUNBUFFERED=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_DISABLE_TELEMETRY=1 \
    DO_NOT_TRACK=1 \
    VLLM_NO_USAGE_STATS=1

VOLUME ["/data", "/models"]
EXPOSE 7860
# /healthz answers as soon as the app is up, while the engine still loads (/readyz tells that).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('APP_PORT', '7860'), timeout=4)"]
# The official image's entrypoint is `vllm serve`; here the app launches vLLM itself.
ENTRYPOINT ["python3", "app.py"]


# BAKE_WEIGHTS=0: nothing more.
FROM app AS weights-0


# BAKE_WEIGHTS=1: the checkpoint in the image, outside /models, so that a volume mounted
# there neither hides it nor keeps an older copy of it.
FROM app AS weights-1
ARG MODEL_ID
ARG MODEL_SOURCE=huggingface
# A Hugging Face mirror for the download, e.g. https://hf-mirror.com.
ARG HF_ENDPOINT=https://huggingface.co
ARG MODELSCOPE_VERSION=1.40.2
RUN case "$MODEL_SOURCE" in \
      huggingface) \
        HF_HOME=/tmp/hf hf download "$MODEL_ID" --local-dir "/opt/models/$MODEL_ID" ;; \
      modelscope) \
        PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir "modelscope==$MODELSCOPE_VERSION" \
        && modelscope download --model "$MODEL_ID" --local_dir "/opt/models/$MODEL_ID" ;; \
      *) echo "MODEL_SOURCE must be huggingface or modelscope, not '$MODEL_SOURCE'" >&2; exit 1 ;; \
    esac \
    && test -f "/opt/models/$MODEL_ID/config.json" \
    && rm -rf /tmp/hf
ENV MODEL=/opt/models/${MODEL_ID}


# The final image is one of the two stages above (BuildKit builds only the one chosen).
# DL3006 (tag the image) does not apply: this names a stage of this file, not an image.
# hadolint ignore=DL3006
FROM weights-${BAKE_WEIGHTS}
