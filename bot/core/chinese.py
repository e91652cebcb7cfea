"""Chinese text analysis: which language a message is in, variants, and word units for matching.

Chinese is written without spaces, so "邮箱满了收不到邮件" is one run of characters. The matcher
needs units it can weigh and look up: the run's content characters (function characters such
as 的, 了, 吗 dropped) and its overlapping character pairs between function characters ("邮箱",
"箱满"). Measured against jieba's dictionary segmentation on the Chinese calibration set, this
does better and needs no dictionary to load (README, "Languages").
Traditional characters are folded to simplified ones first (郵件 -> 邮件), and a few regional
words to the mainland ones (伺服器 -> 服务器); full-width letters and digits are already folded
by NFKC in ``bot.core.text.clean``.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Final

from bot.core.zh_variants import PAIRS

# CJK unified ideographs (with extension A) and the compatibility block.
HAN: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_CHAR: Final = re.compile(f"[{HAN}]")
_LATIN_LETTER: Final = re.compile(r"[A-Za-z]")
_KANA: Final = re.compile("[\u3040-\u30ff]")

_TO_SIMPLIFIED: Final = str.maketrans(
    {PAIRS[i]: PAIRS[i + 1] for i in range(0, len(PAIRS) - 1, 2)}
)
# Words that differ between regions beyond single characters (after folding to simplified).
VARIANT_WORDS: Final = (
    ("伺服器", "服务器"),
    ("资料夹", "文件夹"),
    ("档案夹", "文件夹"),
    ("软体", "软件"),
    ("网路", "网络"),
    ("设定", "设置"),
    ("信箱", "邮箱"),
    ("寄件备份", "已发送"),
    ("收件匣", "收件箱"),
    ("垃圾桶", "垃圾箱"),
    ("电邮", "邮件"),
    ("帐号", "账号"),
    ("帐户", "账户"),
    ("登入", "登录"),
)

# Function characters: particles, pronouns and fillers that say nothing about the problem.
# 不 and 没 are not here: "收不到" and "没了" are the problem.
STOP_CHARS: Final = frozenset("的了吗呢吧啊呀哦嘛么我他她它们是就都也还又很太这那个请问一些把给")

# Helpdesk framing at the start of a forwarded note ("用户反馈: …", "转发: …").
_PREFIX: Final = re.compile(
    r"^\s*(?:(?:转发|转|fw|fwd)\s*:\s*|"
    r"(?:[我的]*(?:用户|客户|同事|员工|老板|领导|老师|学员|下属|一个用户|有个用户|有用户))"
    r"(?:反馈|反映|说|问|报告|投诉|来信|留言)(?:了|道)?\s*[:,]?\s*)+",
    re.IGNORECASE,
)

# Chinese words that mean the same thing in these problems, as extra concept tags for the
# matcher (the English ones are in ``bot.core.matching.CONCEPTS``). Members are single units
# as ``units`` makes them: one or two characters.
CONCEPTS: Final[dict[str, tuple[str, ...]]] = {
    "@vanish": tuple("不见 消失 没了 丢失 丢了 删除 删掉 删了 清空 被删 全没 没有".split()),
    "@client": tuple("客户 户端 手机 电脑 软件 本地".split()),
    "@web": tuple("网页 网页版 页版 浏览 网站 在线".split()),
    "@storage": tuple("容量 空间 存储 配额 满了 已满 爆满 满".split()),
    "@bounce": tuple("退信 退回 被退 弹回 投递 失败".split()),
    "@folder": tuple("垃圾 废件 文件 件夹 已删 回收".split()),
    "@rule": tuple("规则 过滤 分类 筛选".split()),
    "@find": tuple("找不 找到 搜索 搜不 查找".split()),
    "@arrive": tuple("收不 收到 接收 收信 收件".split()),
    "@sent": tuple("已发 发送 发出 发的 送的".split()),
}


def to_simplified(text: str) -> str:
    """Fold traditional characters and a few regional words to simplified Chinese."""
    text = text.translate(_TO_SIMPLIFIED)
    for regional, mainland in VARIANT_WORDS:
        if regional in text:
            text = text.replace(regional, mainland)
    return text


def han_count(text: str) -> int:
    """How many Chinese characters a text has."""
    return len(_HAN_CHAR.findall(text))


def is_chinese(text: str) -> bool:
    """True when a message is written in Chinese: Han characters carry it, not one name.

    "用foxmail收信后网页上邮件没了" is Chinese; "from 上海 office, my mailbox is full" is not;
    Japanese (kana) is not.
    """
    han = han_count(text)
    if han < 2 or _KANA.search(text):
        return False
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    return han >= latin_words or han >= 0.2 * len(_LATIN_LETTER.findall(text))


def strip_prefix(text: str) -> str:
    """Remove Chinese helpdesk framing ("用户反馈:") from a message's start (after NFKC)."""
    return _PREFIX.sub("", text, count=1)


@lru_cache(maxsize=65536)
def units(run: str) -> tuple[str, ...]:
    """Word units of one run of Chinese characters: its content characters, then the pairs.

    Pairs are taken between function characters; a lone character between two of them is
    kept once as a pair would be ("没" in "没了").
    """
    run = to_simplified(run)
    chars = [char for char in run if char not in STOP_CHARS]
    pairs: list[str] = []
    piece: list[str] = []
    for char in (*run, ""):
        if char and char not in STOP_CHARS:
            piece.append(char)
            continue
        if len(piece) == 1:
            pairs.append(piece[0])
        else:
            pairs.extend(a + b for a, b in itertools.pairwise(piece))
        piece = []
    return (*chars, *pairs)
