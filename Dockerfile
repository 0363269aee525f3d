# First version: the app as the one entrypoint, supervising vLLM inside the container.
# The container issue finishes it (weights at build or first start, compose file, T4 profile).
FROM vllm/vllm-openai:v0.32.0

WORKDIR /app
ENV PYTHONUNBUFFERED=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_DISABLE_TELEMETRY=1 \
    VLLM_NO_USAGE_STATS=1 \
    DATA_DIR=/data \
    VLLM_LOG_FILE=/root/workspace/deepseek_qwen.log

# Dependencies first: this layer is rebuilt only when requirements change.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY app.py ./
COPY webapp ./webapp
COPY static ./static

VOLUME ["/data", "/root/.cache/huggingface"]
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/healthz', timeout=4)"
# The official image's entrypoint is `vllm serve`; here the app starts and supervises vLLM.
ENTRYPOINT ["python3", "app.py"]
