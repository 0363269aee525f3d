"""The UI's words in Chinese (the default) and English."""

from __future__ import annotations

from webapp.language import Lang

__all__ = ["DEFAULT_LANG", "TEXT", "Lang", "t"]

# The language the page is built in; each page load switches it to the reader's (`ui/page.py`).
DEFAULT_LANG: Lang = "zh"

TEXT: dict[str, dict[Lang, str]] = {
    "new": {"zh": "＋ 新对话", "en": "+ New chat"},
    "search": {"zh": "搜索对话", "en": "Search chats"},
    "conversations": {"zh": "对话", "en": "Chats"},
    "rename": {"zh": "重命名", "en": "Rename"},
    "delete": {"zh": "删除", "en": "Delete"},
    "title": {"zh": "标题", "en": "Title"},
    "prompt": {
        "zh": "输入消息，按 Enter 发送（Shift+Enter 换行）",
        "en": "Message — Enter to send, Shift+Enter for a new line",
    },
    "send": {"zh": "发送", "en": "Send"},
    "stop": {"zh": "停止", "en": "Stop"},
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
    "writing": {
        "zh": "仍在生成，重新打开此对话可见后续",
        "en": "Still being written — reopen the chat to see more",
    },
    "truncated": {"zh": "已达长度上限，可继续生成", "en": "Cut at the length limit — Continue to go on"},
    "error": {"zh": "出错", "en": "Error"},
    "ttft": {"zh": "首字", "en": "first token"},
    "reasoning_tokens": {"zh": "思考", "en": "thinking"},
    "answer_tokens": {"zh": "回答", "en": "answer"},
    "untitled": {"zh": "新对话", "en": "New chat"},
    "today": {"zh": "今天", "en": "Today"},
    "yesterday": {"zh": "昨天", "en": "Yesterday"},
    "last_week": {"zh": "过去 7 天", "en": "Last 7 days"},
    "older": {"zh": "更早", "en": "Older"},
    "export": {"zh": "导出 Markdown", "en": "Export Markdown"},
    "confirm_delete": {"zh": "删除对话“{title}”？此操作无法撤销。", "en": "Delete “{title}”? This cannot be undone."},
    "no_chats": {"zh": "还没有对话。", "en": "No chats yet."},
    "language": {"zh": "语言", "en": "Language"},
    "message_box": {"zh": "消息", "en": "Message"},
    "share_panel": {"zh": "分享此对话", "en": "Share this chat"},
    "welcome": {
        "zh": "R1 先思考（思考过程可展开查看），再给出回答。试试下面的问题，或直接输入。",
        "en": "R1 thinks first (open the thought to read it), then answers. Try one of these, or type your own.",
    },
    "example_math": {
        "zh": "一个数的 3 倍加 7 等于 25，这个数是多少？",
        "en": "Three times a number plus 7 is 25. What is the number?",
    },
    "example_code": {
        "zh": "用 Python 写一个判断回文字符串的函数。",
        "en": "Write a Python function that checks whether a string is a palindrome.",
    },
    "example_explain": {
        "zh": "用简单的话解释什么是质数。",
        "en": "Explain in simple words what a prime number is.",
    },
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
    "log_all": {"zh": "全部", "en": "All"},
    "log_search": {"zh": "搜索日志", "en": "Search the log"},
    "download_log": {"zh": "下载完整日志", "en": "Download the whole log"},
    "loading_banner": {
        "zh": "模型加载中（{phase}），就绪后即可对话。",
        "en": "The model is loading ({phase}); chat opens when it is ready.",
    },
    "error_banner": {"zh": "引擎不可用：{message}", "en": "The engine is not available: {message}"},
    "weights": {"zh": "权重", "en": "Weights"},
    "downloading": {
        "zh": "正在下载模型权重：{percent}%（{done} / {total}{rate}）",
        "en": "Downloading weights: {percent}% ({done} of {total}{rate})",
    },
    "download_listing": {"zh": "正在下载模型权重：获取文件列表…", "en": "Downloading weights: listing the files…"},
    "downloaded": {"zh": "已下载（{total}，{files} 个文件）", "en": "Downloaded ({total}, {files} files)"},
    "download_stopped": {"zh": "下载停在 {percent}%", "en": "The download stopped at {percent}%"},
    "download_files": {"zh": "文件 {done}/{total}", "en": "file {done} of {total}"},
    "download_banner_end": {"zh": "，模型就绪后即可对话。", "en": "; chat opens when the model is ready."},
    "list_separator": {"zh": "，", "en": ", "},
    "left_seconds": {"zh": "约剩 {n} 秒", "en": "about {n} s left"},
    "left_minutes": {"zh": "约剩 {n} 分钟", "en": "about {n} min left"},
    "left_hours": {"zh": "约剩 {h} 小时 {m} 分钟", "en": "about {h} h {m} min left"},
    "share": {"zh": "分享", "en": "Share"},
    "unshare": {"zh": "取消分享", "en": "Stop sharing"},
    "share_expiry": {"zh": "有效期", "en": "Expires"},
    "never": {"zh": "永久", "en": "Never"},
    "days": {"zh": "{n} 天", "en": "{n} days"},
    "share_link": {"zh": "分享链接（只读快照，无需登录）", "en": "Share link (read-only snapshot, no sign-in needed)"},
    "shared_links": {"zh": "我的分享链接", "en": "My share links"},
    "no_conversation": {"zh": "请先开始一个对话。", "en": "Start a conversation first."},
    "signed_in_as": {"zh": "已登录：**{name}**", "en": "Signed in as **{name}**"},
    "sign_out": {"zh": "退出登录", "en": "Sign out"},
    "api_tokens": {"zh": "API 令牌（脚本用）", "en": "API tokens (for scripts)"},
    "token_name": {"zh": "令牌名称", "en": "Token name"},
    "create_token": {"zh": "创建令牌", "en": "Create token"},
    "new_token": {"zh": "新令牌（只显示这一次）", "en": "New token (shown this once)"},
    "token_id": {"zh": "令牌编号", "en": "Token id"},
    "revoke": {"zh": "吊销", "en": "Revoke"},
    "admin_tab": {"zh": "用户管理", "en": "Users"},
    "user_name": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "is_admin": {"zh": "管理员", "en": "Admin"},
    "create_user": {"zh": "创建用户", "en": "Create user"},
    "delete_user": {"zh": "删除用户", "en": "Delete user"},
    "set_password": {"zh": "设置新密码", "en": "Set new password"},
    "sign_out_everywhere": {"zh": "在所有设备上退出登录", "en": "Sign out everywhere"},
    "users_note": {
        "zh": "来自配置（USERS_FILE、ADMIN_USER）的用户只能在配置中修改或删除，重启后生效；"
        "从配置中移除的用户会被停用，数据保留。设置新密码、删除用户或“在所有设备上退出登录”"
        "都会结束该用户的所有会话和 API 令牌。",
        "en": "Users from the configuration (USERS_FILE, ADMIN_USER) are changed or removed there, "
        "and the change applies at the next start; one removed there is disabled, their data kept. "
        "A new password, a deletion or “Sign out everywhere” ends all of the user's sessions and API tokens.",
    },
    "restart_engine": {"zh": "重启引擎", "en": "Restart the engine"},
    "restarting": {"zh": "引擎正在重启…", "en": "The engine is restarting…"},
    "done": {"zh": "完成。", "en": "Done."},
    "eval_tab": {"zh": "评测", "en": "Evaluation"},
    "eval_intro": {
        "zh": "同一问题运行 N 次（同时 k 个）：首字时间、耗时、tokens/s，"
        "以及 `\\boxed{}` 答案的一致率。会占用引擎算力。",
        "en": "Run one question N times, k at once: time to first token, latency, tokens/s, and how often the "
        "`\\boxed{}` answers agree. It uses the engine's capacity.",
    },
    "eval_builtin": {
        "zh": "使用内置数学题（8 道，答案已知），忽略下面的问题",
        "en": "Use the built-in math set (8 questions with known answers) instead of the prompt below",
    },
    "eval_prompt": {"zh": "问题", "en": "Prompt"},
    "eval_math": {
        "zh": "数学题（要求逐步推理并给出 \\boxed{} 答案）",
        "en": "Math (step by step, answer in \\boxed{})",
    },
    "eval_known_answer": {"zh": "已知答案（可选）", "en": "Known answer (optional)"},
    "eval_runs": {"zh": "运行次数 N（每题）", "en": "Runs N (per question)"},
    "eval_concurrency": {"zh": "并发数 k", "en": "Concurrency k"},
    "eval_run": {"zh": "开始评测", "en": "Run"},
    "eval_progress": {
        "zh": "已完成 {done}/{total} 次，出错 {errors} 次",
        "en": "{done} of {total} runs finished, {errors} failed",
    },
    "eval_no_prompt": {"zh": "请输入问题，或选择内置数学题。", "en": "Type a prompt, or choose the built-in set."},
    "eval_bad_numbers": {
        "zh": "运行次数须在 1 到 {runs} 之间，并发数须在 1 到 {concurrency} 之间。",
        "en": "Runs must be 1 to {runs} and concurrency 1 to {concurrency}.",
    },
    "eval_question": {"zh": "题目", "en": "Question"},
    "eval_runs_col": {"zh": "次数", "en": "Runs"},
    "eval_errors": {"zh": "出错", "en": "Errors"},
    "eval_ttft": {"zh": "首字 ms", "en": "TTFT ms"},
    "eval_latency": {"zh": "耗时 s", "en": "Latency s"},
    "eval_tps": {"zh": "tokens/s", "en": "tokens/s"},
    "eval_mean": {"zh": "均值", "en": "mean"},
    "eval_majority": {"zh": "多数答案", "en": "Majority answer"},
    "eval_agreement": {"zh": "一致率", "en": "Agreement"},
    "eval_accuracy": {"zh": "正确率", "en": "Accuracy"},
    "eval_ttft_plot": {"zh": "每次运行的首字时间（ms）", "en": "Time to first token per run (ms)"},
    "eval_latency_plot": {"zh": "每次运行的耗时（s）", "en": "Latency per run (s)"},
    "eval_tps_plot": {"zh": "每次运行的 tokens/s", "en": "Tokens/s per run"},
    "eval_csv": {"zh": "下载 CSV（每次运行一行）", "en": "Download the CSV (one row per run)"},
}


def t(key: str, lang: Lang) -> str:
    return TEXT[key][lang]
