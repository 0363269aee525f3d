"""The UI's words in Chinese (the default) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"

TEXT: dict[str, dict[Lang, str]] = {
    "new": {"zh": "＋ 新对话", "en": "＋ New chat"},
    "search": {"zh": "搜索对话", "en": "Search chats"},
    "conversations": {"zh": "对话", "en": "Chats"},
    "rename": {"zh": "重命名", "en": "Rename"},
    "delete": {"zh": "删除", "en": "Delete"},
    "title": {"zh": "标题", "en": "Title"},
    "prompt": {
        "zh": "输入消息，按 Enter 发送（Shift+Enter 换行）",
        "en": "Message — Enter to send, Shift+Enter for a new line",
    },
    "placeholder": {"zh": "向 DeepSeek-R1 提问", "en": "Ask DeepSeek-R1"},
    "send": {"zh": "发送", "en": "Send"},
    "stop": {"zh": "停止", "en": "Stop"},
    "regenerate": {"zh": "重新生成", "en": "Regenerate"},
    "edit": {"zh": "编辑上一条", "en": "Edit last"},
    "continue": {"zh": "继续生成", "en": "Continue"},
    "settings": {"zh": "设置", "en": "Settings"},
    "temperature": {"zh": "温度（推荐 0.5–0.7）", "en": "Temperature (0.5–0.7 recommended)"},
    "top_p": {"zh": "Top-p", "en": "Top-p"},
    "max_tokens": {"zh": "最大生成长度（0 = 自动）", "en": "Max tokens (0 = as many as fit)"},
    "math": {
        "zh": "数学模式（逐步推理，答案放在 \\boxed{} 内）",
        "en": "Math mode (step by step, answer in \\boxed{})",
    },
    "persona": {"zh": "角色设定（并入用户消息）", "en": "Persona (folded into your message)"},
    "thinking": {"zh": "思考中…", "en": "Thinking…"},
    "thought": {"zh": "思考过程", "en": "Thought"},
    "stopped": {"zh": "已停止", "en": "Stopped"},
    "truncated": {"zh": "已达长度上限，可继续生成", "en": "Cut at the length limit — Continue to go on"},
    "error": {"zh": "出错", "en": "Error"},
    "ttft": {"zh": "首字", "en": "first token"},
    "reasoning_tokens": {"zh": "思考", "en": "thinking"},
    "answer_tokens": {"zh": "回答", "en": "answer"},
    "untitled": {"zh": "新对话", "en": "New chat"},
    "show_reasoning": {"zh": "显示思考过程", "en": "Show the thinking"},
    "reset": {"zh": "恢复推荐设置", "en": "Reset to recommended"},
    "chat_tab": {"zh": "对话", "en": "Chat"},
    "status_tab": {"zh": "状态与日志", "en": "Status & log"},
    "engine": {"zh": "引擎", "en": "Engine"},
    "phase": {"zh": "阶段", "en": "Phase"},
    "model": {"zh": "模型", "en": "Model"},
    "restarts": {"zh": "重启次数", "en": "Restarts"},
    "last_exit": {"zh": "上次退出", "en": "Last exit"},
    "timeline": {"zh": "启动过程", "en": "Startup"},
    "time": {"zh": "时间", "en": "Time"},
    "log_level": {"zh": "级别", "en": "Level"},
    "log_search": {"zh": "搜索日志", "en": "Search the log"},
    "download_log": {"zh": "下载完整日志", "en": "Download the whole log"},
    "loading_banner": {
        "zh": "模型加载中（{phase}），就绪后即可对话。",
        "en": "The model is loading ({phase}); chat opens when it is ready.",
    },
    "error_banner": {"zh": "引擎不可用：{message}", "en": "The engine is not available: {message}"},
    "editing": {"zh": "正在编辑上一条消息，发送即替换", "en": "Editing your last message: sending replaces it"},
}


def t(key: str, lang: Lang) -> str:
    return TEXT[key][lang]
