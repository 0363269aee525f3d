"""The errors a user can meet, each with a message fit for a person, in English and Chinese.

Every layer raises these; the API (English) and the pages (the reader's language)
translate them once, at their edge, through `AppError.text`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AppError(Exception):
    """Base of every error the app shows to a person.

    `message` and `hint` are English (the API's words). `code` names the same words in
    `ZH` and `params` fills them in, so a page can show them in Chinese too.
    """

    #: HTTP status the REST API answers with.
    status: int = 500
    #: Short machine-readable name, stable across releases.
    kind: str = "error"

    def __init__(
        self, message: str, *, hint: str | None = None, code: str | None = None, params: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.params = dict(params or {})

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def text(self, lang: str) -> str:
        """The message and its hint in `lang` ("en" or "zh").

        An error without Chinese words of its own (an engine's or a server's detail) says what
        kind of failure it is in Chinese and keeps the English detail after it.
        """
        if lang != "zh":
            return str(self)
        if self.code is not None:
            return ZH[self.code].format(**self.params)
        return f"{ZH_KINDS.get(self.kind, ZH_KINDS['error'])}：{self}"


class EngineError(AppError):
    """The model engine could not answer."""

    status = 502
    kind = "engine_error"


class EngineNotReady(EngineError):
    """The engine is still starting, or has failed to start."""

    status = 503
    kind = "engine_not_ready"


class EngineUnreachable(EngineError):
    """Nothing answers at the engine's address."""

    status = 503
    kind = "engine_unreachable"


class EngineTimeout(EngineError):
    """The engine took longer than the request timeout."""

    status = 504
    kind = "engine_timeout"


class ModelNotFound(EngineError):
    """The engine does not serve the model the app asked for."""

    status = 502
    kind = "model_not_found"


class ContextTooLong(AppError):
    """The prompt and the answer budget do not fit in the model's context."""

    status = 413
    kind = "context_too_long"


class LaunchRefused(AppError):
    """A mistake in the engine configuration, seen before launching it."""

    status = 503
    kind = "launch_refused"


class InvalidInput(AppError):
    """Something a user or client sent cannot be used as it is."""

    status = 422
    kind = "invalid_input"


class MalformedBody(InvalidInput):
    """A request body that cannot even be parsed (not JSON, not UTF-8)."""

    status = 400


class NotFound(AppError):
    """An id that does not exist, or is not the asker's (the two look the same)."""

    status = 404
    kind = "not_found"


class TooLarge(InvalidInput):
    """Input over a size limit."""

    status = 413
    kind = "too_large"


class UnknownHost(AppError):
    """A request for a host name the app does not serve (a rebound DNS name, a stray proxy)."""

    status = 421
    kind = "unknown_host"


class Unauthorized(AppError):
    """No valid session or token, where one is needed."""

    status = 401
    kind = "unauthorized"


class Forbidden(AppError):
    """Signed in, but this needs an admin."""

    status = 403
    kind = "forbidden"


class Conflict(AppError):
    """The request clashes with what exists (e.g. a user name already taken)."""

    status = 409
    kind = "conflict"


class RateLimited(AppError):
    """Too many requests from one user, address or login name."""

    status = 429
    kind = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float, hint: str | None = None, code: str | None = "too_many"
    ) -> None:
        self.retry_after = max(1, round(retry_after + 0.5))
        super().__init__(message, hint=hint, code=code, params={"seconds": self.retry_after})


class QuotaExceeded(RateLimited):
    """The owner has spent their tokens for the day (OpenAI's `insufficient_quota`)."""

    kind = "insufficient_quota"

    def __init__(self, message: str, *, retry_after: float, quota: int, resets: str) -> None:
        self.retry_after = max(1, round(retry_after + 0.5))
        AppError.__init__(self, message, code="quota_exceeded", params={"quota": quota, "resets": resets})


def error_body(error: AppError) -> dict[str, Any]:
    """The JSON shape of every error the app answers with over HTTP."""
    return {"error": {"kind": error.kind, "message": error.message, "hint": error.hint}}


# What kind of failure an error without words of its own is, in Chinese (`AppError.text`).
ZH_KINDS: dict[str, str] = {
    "error": "出错",
    "engine_error": "模型引擎出错",
    "engine_not_ready": "模型引擎尚未就绪",
    "engine_unreachable": "无法连接模型引擎",
    "engine_timeout": "模型引擎未能及时响应",
    "model_not_found": "模型引擎没有提供所需的模型",
    "context_too_long": "对话超出了模型的上下文长度",
    "launch_refused": "引擎配置有误，无法启动",
    "invalid_input": "输入无法使用",
    "not_found": "找不到",
    "too_large": "内容过大",
    "unknown_host": "本应用不服务此主机名",
    "unauthorized": "请先登录",
    "forbidden": "不允许此操作",
    "conflict": "与现有内容冲突",
    "rate_limited": "请求过于频繁",
    "insufficient_quota": "今日额度已用完",
}

# Each error's words in Chinese, by `AppError.code`; `{name}`s are its `params`.
ZH: dict[str, str] = {
    "too_many": "请求过于频繁，请 {seconds} 秒后再试。",
    "quota_exceeded": "你今天的 {quota:,} 个 token 额度已用完，将于 {resets}（UTC 午夜）重置。这条消息没有发送。",
    "rating_value": '评价只能是 "up"（赞）或 "down"（踩）。',
    "note_too_long": "备注最多 {limit:,} 个字符。",
    "quota_range": "每日额度须为 0 到 {limit:,} 个 token 之间的整数（或不限）。",
    "engine_loading": "模型仍在加载，请稍后再试。",
    "engine_stopped": "模型引擎已停止。",
    "engine_downloading": "正在下载模型权重，下载并加载完成后即可对话。",
    "busy": "此对话中仍有回答在生成：请等它结束，或先停止它。",
    "busy_delete": "此对话中仍有回答在生成：请先停止它，再删除对话。",
    "not_restorable": "此对话已被永久删除，无法恢复。",
    "message_not_text": "消息必须是文本。",
    "message_empty": "消息是空的，请先输入问题。",
    "message_too_long": "消息有 {chars:,} 个字符，上限为 {limit:,}。请缩短或分成几条发送。",
    "nothing_to_edit": "没有可编辑的消息。",
    "nothing_to_answer": "没有可重新回答的消息。",
    "not_cut": "只有因长度上限而截断的回答才能继续生成。",
    "temperature_range": "温度须在 0 到 2 之间（现为 {value}）。",
    "top_p_range": "Top-p 须大于 0 且不超过 1（现为 {value}）。",
    "max_tokens_range": "最大生成长度至少为 1（现为 {value}）。",
    "persona_too_long": "角色设定超过 {limit:,} 个字符。",
    "thinking_budget_range": "思考预算须在 1 到 {limit:,} 个 token 之间（或不限），现为 {value}。",
    "no_thinking_budget": "引擎未启用思考预算：请以 --reasoning-parser deepseek_r1 启动 vLLM，或在设置中清空思考预算。",
    "context_full": "这条消息需要 {needed:,} 个 token，而模型的上下文（含回答空间）只有 {limit:,}。"
    "请缩短消息，或开始新对话。",
    "password_length": "密码须为 {low} 到 {high} 个字符。",
    "password_chars": "密码不能包含 NUL 字符或孤立的代理字符。",
    "user_name_rule": "用户名为 1 到 64 个字母、数字或 `_ . @ -`。",
    "no_user": "没有名为 {name} 的用户。",
    "configured_user": "{name} 来自配置（USERS_FILE 或 ADMIN_USER），只能在配置中修改或删除，重启后生效。",
    "user_exists": "已有名为 {name} 的用户。",
    "only_admin": "这是唯一的管理员：请先设置另一位管理员。",
    "no_token": "没有这个 API 令牌。",
    "sign_in_first": "请先登录。",
    "admin_only": "只有管理员可以这样做。",
    "own_account": "不能删除自己的账户。",
    "no_conversation": "没有这个对话，它可能已被删除。",
    "no_message": "没有这条消息。",
    "too_many_conversations": "你已有 {kept:,} 个对话，已达上限。请删除一些再新建。",
    "title_empty": "标题不能为空。",
    "not_shared": "此对话没有分享。",
    "no_share": "此链接不存在、已被撤销或已过期。",
    "eval_numbers": "运行次数和并发数至少为 1。",
    "eval_no_question": "没有可运行的问题：请输入问题，或选择内置数学题。",
    "sign_in_body": "需要文本形式的用户名和密码。",
    "sign_in_lengths": "需要用户名（最多 64 个字符）和密码（最多 1024 个字符）。",
    "wrong_password": "用户名或密码错误。",
    "session_ended": "会话已结束：请刷新页面（并重新登录）。",
}
