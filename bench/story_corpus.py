"""A generated corpus for tuning and measuring story grouping (near-duplicate detection).

Stories are written from sentence templates of our own (English and Chinese) with varied
slots, so unrelated stories share the language's common phrases but not their substance. Each
story comes with the copies a desk sees: a wire copy inside another outlet's boilerplate, a
rewrite with a new first sentence, a lightly edited copy, a copy that drops the last third,
and for Chinese a copy in Traditional characters; these must share the story. Each also comes
with a follow-up (a new development that reuses two background sentences), which must not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import opencc

ACTORS = [
    "The defence ministry",
    "A senior official",
    "The prime minister",
    "An army spokesperson",
    "The navy chief",
    "Analysts at a Taipei think tank",
    "The foreign minister",
    "Parliament's defence committee",
    "A procurement officer",
    "The air force commander",
    "A retired general",
    "The cabinet secretary",
]
COUNTRIES = ["Taiwan", "Japan", "South Korea", "Israel", "the Philippines", "Vietnam", "India", "Singapore"]
SYSTEMS = [
    "Iron Dome",
    "the T-Dome shield",
    "Patriot interceptors",
    "a laser air-defence system",
    "Sky Bow missiles",
    "an early-warning radar",
    "drone jammers",
    "the Iron Beam laser",
    "coastal anti-ship missiles",
    "a layered missile shield",
]
VERBS = ["buy", "deploy", "test", "co-develop", "upgrade", "license", "evaluate", "expand"]
PLACES = [
    "the northern coast",
    "the capital",
    "an offshore island",
    "the southern port",
    "a mountain base",
    "the eastern command",
    "the border region",
]
MONTHS = ["January", "March", "April", "June", "August", "September", "November"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
ENGLISH = [
    "{actor} said on {day} that {country} plans to {verb} {system} near {place}.",
    "The contract, worth about {n} million dollars, covers {m} batteries and training for {k} crews.",
    "{country} has watched how {system} performed against rockets and drones in recent conflicts.",
    "Officials in {country} declined to say when the first of {m} units would be ready at {place}.",
    "Critics argue that {system} is too costly to defend a coastline of {n} kilometres.",
    "The plan follows a revision of the defence documents that {actor2} approved in {month}.",
    "{actor} told reporters that talks with suppliers in {country2} were at an early stage.",
    "Budget papers show spending on air defence rising by {p} percent over {k} years.",
    "A test of {system} near {place} is scheduled for {month}, according to {actor2}.",
    "Opposition lawmakers asked whether {country2} would share the source code of {system}.",
    "{actor2} warned that {m} launchers alone could not stop a saturation attack on {place}.",
    "Engineers from {country2} visited {place} in {month} to survey {k} possible sites.",
    "The first delivery is expected within {k} years if the budget passes by {month}.",
    "Satellite images published on {day} showed new construction at {place}.",
    "{country} already operates {m} older batteries bought in the {decade}s.",
    "The ministry said {system} would be linked to {n} sensors under a single command network.",
]
ZH_ACTORS = [
    "国防部",
    "一名高级官员",
    "行政院长",
    "陆军发言人",
    "海军司令",
    "台北智库分析人士",
    "外交部长",
    "立法院国防委员会",
]
ZH_SYSTEMS = ["铁穹", "台湾之盾", "爱国者拦截弹", "激光防空系统", "天弓导弹", "预警雷达", "无人机干扰器"]
ZH_PLACES = ["北部海岸", "首都", "离岛", "南部港口", "山区基地", "东部指挥部"]
ZH_COUNTRIES = ["台湾", "日本", "韩国", "以色列", "菲律宾", "越南"]
CHINESE = [
    "{actor}{day}表示，{country}计划在{place}部署{system}。",
    "这份合同价值约{n}亿元，涵盖{m}个发射单元以及{k}个班组的训练。",
    "{country}一直在观察{system}在近期冲突中拦截火箭和无人机的表现。",
    "{country}官员拒绝透露首批{m}套装备何时能在{place}就位。",
    "批评者认为，用{system}防守长达{n}公里的海岸线代价过高。",
    "这项计划是在{actor2}于{month}月批准修订国防文件之后提出的。",
    "{actor}对记者说，与{country2}供应商的谈判仍处于初期阶段。",
    "预算文件显示，防空开支将在{k}年内增加百分之{p}。",
    "据{actor2}透露，{system}将于{month}月在{place}附近进行测试。",
    "在野党议员质询{country2}是否会分享{system}的源代码。",
    "{actor2}警告说，仅靠{m}部发射车无法抵御对{place}的饱和攻击。",
    "卫星图像显示{place}出现了新的施工迹象。",
    "{country}海军{day}在{place}外海完成了第{m}次联合演练。",
    "{actor}承认，{system}的维护费用每年超过{n}亿元。",
    "多名退役将领联名致信{actor2}，要求公开{system}的采购细节。",
    "{country2}工程师团队预计在{month}月抵达{place}进行技术交流。",
    "民调显示，{p}%的受访者支持在{place}增设防空阵地。",
    "{actor}强调，引进{system}不会改变{country}的防御性战略。",
    "报道称，首批{k}名技术人员已前往{country2}接受培训。",
    "{place}居民担心雷达站会影响当地渔业和旅游业。",
    "分析人士指出，{system}对付低空巡航导弹的效果仍有待验证。",
    "{actor2}计划于{month}月率团访问{country2}，讨论技术转让问题。",
    "立法机构要求国防部在{k}周内提交{system}的评估报告。",
    "据悉，{country}与{country2}已就共同研发新型拦截弹签署备忘录。",
]
BOILERPLATE = [
    ("(Wire) -", "Reporting by our correspondents; editing by the desk."),
    ("TAIPEI (News agency) -", "Copyright the agency. All rights reserved. Read more on our website."),
    ("", "Follow us for more defence news. Sign up for the morning briefing."),
]

_to_traditional = opencc.OpenCC("s2t")


@dataclass(frozen=True)
class Copy:
    family: int  # copies of one family are one story
    kind: str
    title: str
    text: str


def _slots(rng: random.Random, chinese: bool) -> dict[str, object]:
    return {
        "actor": rng.choice(ZH_ACTORS if chinese else ACTORS),
        "actor2": rng.choice(ZH_ACTORS if chinese else ACTORS),
        "country": rng.choice(ZH_COUNTRIES if chinese else COUNTRIES),
        "country2": rng.choice(ZH_COUNTRIES if chinese else COUNTRIES),
        "system": rng.choice(ZH_SYSTEMS if chinese else SYSTEMS),
        "verb": rng.choice(VERBS),
        "place": rng.choice(ZH_PLACES if chinese else PLACES),
        "month": rng.randint(1, 12) if chinese else rng.choice(MONTHS),
        "day": rng.choice(["周一", "周二", "周三", "周四"]) if chinese else rng.choice(DAYS),
        "n": rng.randint(20, 900),
        "m": rng.randint(2, 40),
        "k": rng.randint(2, 12),
        "p": rng.randint(3, 30),
        "decade": rng.choice([1980, 1990, 2000]),
    }


def _sentences(rng: random.Random, count: int, chinese: bool) -> list[str]:
    templates = rng.sample(CHINESE if chinese else ENGLISH, count)
    return [template.format(**_slots(rng, chinese)) for template in templates]


def _join(sentences: list[str], chinese: bool) -> str:
    return ("" if chinese else " ").join(sentences)


def _edit(rng: random.Random, sentences: list[str], chinese: bool) -> list[str]:
    """Two sentences rewritten, as a copy editor at another outlet would."""
    edited = list(sentences)
    for index in rng.sample(range(1, len(edited)), 2):
        edited[index] = _sentences(rng, 1, chinese)[0]
    return edited


def family(rng: random.Random, number: int, chinese: bool) -> list[Copy]:
    sentences = _sentences(rng, rng.randint(7, 11), chinese)
    title = _sentences(rng, 1, chinese)[0].rstrip(".。")
    head, tail = rng.choice(BOILERPLATE)
    copies = [
        Copy(number, "original", title, _join(sentences, chinese)),
        Copy(number, "wire copy", title, f"{head} {_join(sentences, chinese)} {tail}"),
        Copy(
            number, "new first sentence", title, _join(_sentences(rng, 1, chinese) + sentences[1:], chinese)
        ),
        Copy(number, "edited", title, _join(_edit(rng, sentences, chinese), chinese)),
        Copy(number, "last third cut", title, _join(sentences[: len(sentences) * 2 // 3 + 1], chinese)),
    ]
    if chinese:
        copies.append(Copy(number, "traditional script", title, _to_traditional.convert(copies[0].text)))
    follow_up = _sentences(rng, 5, chinese) + rng.sample(sentences[1:], 2)
    copies.append(
        Copy(
            -number - 1, "follow-up", _sentences(rng, 1, chinese)[0].rstrip(".。"), _join(follow_up, chinese)
        )
    )
    return copies


def _one_word_changed(rng: random.Random, text: str, chinese: bool) -> str:
    """One word (one character in Chinese) replaced, as a sub-editor's fix."""
    if chinese:
        index = rng.randrange(len(text))
        return text[:index] + rng.choice("新旧大小多") + text[index + 1 :]
    words = text.split(" ")
    words[rng.randrange(len(words))] = rng.choice(["reportedly", "also", "now", "formally"])
    return " ".join(words)


def short_family(
    rng: random.Random,
    number: int,
    chinese: bool,
    words: tuple[int, int] = (25, 60),
    characters: tuple[int, int] = (40, 110),
    headline_words: tuple[int, int] = (6, 10),
    headline_characters: tuple[int, int] = (12, 20),
) -> list[Copy]:
    """A story as feed text only (25 to 60 words, or 40 to 110 characters in Chinese, by
    default): the page could not be fetched. Its copies have their own headline; one changes a
    word, one adds a dateline, a Chinese one is in Traditional characters. Its follow-up (a new
    development, as long again) reuses one sentence as background."""
    least, most = characters if chinese else words
    while True:
        sentences = _sentences(rng, rng.randint(2, 4), chinese)
        text = _join(sentences, chinese)
        size = len(text) if chinese else len(text.split())
        if least <= size <= most:
            break

    def headline() -> str:  # a headline's length: the start of a sentence
        sentence = _sentences(rng, 1, chinese)[0].rstrip(".。")
        if chinese:
            return sentence[: rng.randint(*headline_characters)]
        return " ".join(sentence.split()[: rng.randint(*headline_words)])

    head, _ = rng.choice(BOILERPLATE)
    copies = [
        Copy(number, "short original", headline(), text),
        Copy(number, "short, a word changed", headline(), _one_word_changed(rng, text, chinese)),
        Copy(number, "short, dateline", headline(), f"{head} {text}".strip()),
    ]
    if chinese:
        copies.append(Copy(number, "short, traditional script", headline(), _to_traditional.convert(text)))
    follow_up = [rng.choice(sentences), *_sentences(rng, len(sentences), chinese)]
    copies.append(Copy(-number - 1, "short follow-up", headline(), _join(follow_up, chinese)))
    return copies


def short_corpus(families: int = 60, seed: int = 5) -> list[Copy]:
    """`families` short stories (see short_family) with their copies, shuffled."""
    rng = random.Random(seed)
    copies = [
        copy for number in range(families) for copy in short_family(rng, number, chinese=number % 3 == 2)
    ]
    rng.shuffle(copies)
    return copies


def tiny_corpus(families: int = 60, seed: int = 7) -> list[Copy]:
    """As short_corpus, at the short end: 25 to 30 words (40 to 54 characters in Chinese)
    under headlines of 9 or 10 words (18 to 20 characters), which weigh as much as the text."""
    rng = random.Random(seed)
    copies = [
        copy
        for number in range(families)
        for copy in short_family(
            rng, number, number % 3 == 2, (25, 30), (40, 54), (9, 10), headline_characters=(18, 20)
        )
    ]
    rng.shuffle(copies)
    return copies


def corpus(families: int = 60, seed: int = 3) -> list[Copy]:
    """`families` stories with their copies and follow-ups, shuffled (copies arrive in any order)."""
    rng = random.Random(seed)
    copies = [copy for number in range(families) for copy in family(rng, number, chinese=number % 3 == 2)]
    rng.shuffle(copies)
    return copies


def pair_scores(copies: list[Copy], stories: list[str]) -> tuple[float, float]:
    """Precision and recall of the grouping over all pairs of copies."""
    true_positive = false_positive = false_negative = 0
    for i in range(len(copies)):
        for j in range(i + 1, len(copies)):
            same = copies[i].family == copies[j].family
            grouped = stories[i] == stories[j]
            true_positive += same and grouped
            false_positive += grouped and not same
            false_negative += same and not grouped
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 1.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 1.0
    return precision, recall
