"""Synthetic scenes for the bundled model: simple shapes in named colours, sizes and positions on a
coloured background, with English captions that say exactly that.

Everything is deterministic from a seed: `Scene.sample(rng)` draws a scene description with a
`random.Random`, `caption(scene)` writes it as English text and `caption_zh(scene)` as Chinese, `render(scenes, width, height)` draws a batch
on any torch device (anti-aliased by 2x supersampling). `score(image, scene)` checks a generated
image against its scene (background colour, each object's colour at its place, each object's shape)
and is what the held-out quality score in the model card is made of.

Only torch and the standard library: it runs on the training GPU and on a CPU alike.
"""

import math
import random
import re
from dataclasses import dataclass

import torch

# Named colours (sRGB 0-255); the captions use these names and the score classifies pixels by the
# nearest of them.
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 160, 60),
    "blue": (30, 70, 220),
    "yellow": (245, 215, 40),
    "orange": (245, 135, 20),
    "purple": (130, 50, 170),
    "pink": (245, 140, 200),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
    "brown": (125, 75, 35),
    "cyan": (40, 200, 220),
}
COLOUR_NAMES = list(COLOURS)
SHAPES = ["circle", "square", "triangle", "star", "diamond"]
# Radius relative to the shorter side; "medium" is never written in captions.
SIZES = {"small": 0.09, "medium": 0.14, "large": 0.21}
# Centres in fractions of (width, height) and the phrase that names them.
POSITIONS = {
    "center": ((0.5, 0.5), "in the center"),
    "left": ((0.22, 0.5), "on the left"),
    "right": ((0.78, 0.5), "on the right"),
    "top": ((0.5, 0.22), "at the top"),
    "bottom": ((0.5, 0.78), "at the bottom"),
    "top left": ((0.22, 0.22), "at the top left"),
    "top right": ((0.78, 0.22), "at the top right"),
    "bottom left": ((0.22, 0.78), "at the bottom left"),
    "bottom right": ((0.78, 0.78), "at the bottom right"),
}
POSITION_NAMES = list(POSITIONS)

# The same words in Chinese (captions in Chinese name the place first: "左上角一个小的橙色菱形").
COLOURS_ZH = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "orange": "橙色",
              "purple": "紫色", "pink": "粉色", "white": "白色", "black": "黑色", "gray": "灰色",
              "brown": "棕色", "cyan": "青色"}
SHAPES_ZH = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "star": "星形", "diamond": "菱形"}
SIZES_ZH = {"small": "小的", "large": "大的"}
POSITIONS_ZH = {"center": "中间", "left": "左边", "right": "右边", "top": "上方", "bottom": "下方",
                "top left": "左上角", "top right": "右上角", "bottom left": "左下角", "bottom right": "右下角"}
WORDS_ZH = (list(POSITIONS_ZH.values()) + ["一个"] + list(SIZES_ZH.values()) + list(COLOURS_ZH.values())
            + list(SHAPES_ZH.values()) + ["和", "背景", "，"])

# Every word a caption can hold, in a fixed order (the tokenizers' vocabulary).
VOCABULARY = (
    ["a", "an", "and", "on", "at", "in", "the", "background", ","]
    + ["left", "right", "top", "bottom", "center"]
    + list(SIZES)
    + SHAPES
    + COLOUR_NAMES
    + WORDS_ZH
)

# How the tokenizers split a (lower-cased) text into words: the Chinese words (longest first, as
# Chinese writes no spaces), then runs of letters and digits, then runs of other non-space
# characters. The tokenizer.json files carry the same pattern (a `Split` pre-tokenizer).
WORD_PATTERN = "|".join(sorted((w for w in WORDS_ZH if w != "，"), key=len, reverse=True)) + r"|\w+|[^\w\s]+"
WORD = re.compile(WORD_PATTERN)


@dataclass(frozen=True)
class Item:
    shape: str
    colour: str
    size: str
    position: str
    # jitter of the centre (fractions of the shorter side) and of the radius (factor)
    dx: float
    dy: float
    scale: float


@dataclass(frozen=True)
class Scene:
    background: str
    items: tuple
    # whether the caption names the background / a lone centred object's place
    say_background: bool
    say_center: bool

    @staticmethod
    def sample(rng: random.Random) -> "Scene":
        n = rng.choices([1, 2, 3], weights=[0.45, 0.35, 0.2])[0]
        say_background = rng.random() >= 0.15
        background = rng.choice(COLOUR_NAMES) if say_background else "white"
        places = rng.sample(POSITION_NAMES, n)
        items = []
        for place in places:
            colour = rng.choice([c for c in COLOUR_NAMES if c != background])
            sizes = list(SIZES) if n == 1 else ["small", "medium"]
            items.append(
                Item(
                    shape=rng.choice(SHAPES),
                    colour=colour,
                    size=rng.choice(sizes),
                    position=place,
                    dx=rng.uniform(-0.035, 0.035),
                    dy=rng.uniform(-0.035, 0.035),
                    scale=rng.uniform(0.9, 1.1),
                )
            )
        return Scene(background, tuple(items), say_background, rng.random() < 0.5)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _describe(item: Item, lone: bool, say_center: bool) -> str:
    words = ([item.size] if item.size != "medium" else []) + [item.colour, item.shape]
    text = _article(words[0]) + " " + " ".join(words)
    if not (lone and item.position == "center" and not say_center):
        text += " " + POSITIONS[item.position][1]
    return text


def caption(scene: Scene) -> str:
    """'a large red circle on the left and a small blue square at the top right, on a yellow
    background' — sizes other than medium, places (a lone centred object's only sometimes) and
    the background (white when unnamed) as the scene has them."""
    lone = len(scene.items) == 1
    parts = [_describe(i, lone, scene.say_center) for i in scene.items]
    if len(parts) == 1:
        text = parts[0]
    else:
        text = ", ".join(parts[:-1]) + " and " + parts[-1]
    if scene.say_background:
        text += ", on " + _article(scene.background) + " " + scene.background + " background"
    return text


def _describe_zh(item: Item, lone: bool, say_center: bool) -> str:
    text = "一个" + SIZES_ZH.get(item.size, "") + COLOURS_ZH[item.colour] + SHAPES_ZH[item.shape]
    if not (lone and item.position == "center" and not say_center):
        text = POSITIONS_ZH[item.position] + text
    return text


def caption_zh(scene: Scene) -> str:
    """The caption in Chinese: '左边一个大的红色圆形和右上角一个小的蓝色正方形，黄色背景'."""
    lone = len(scene.items) == 1
    parts = [_describe_zh(i, lone, scene.say_center) for i in scene.items]
    text = parts[0] if len(parts) == 1 else "，".join(parts[:-1]) + "和" + parts[-1]
    if scene.say_background:
        text += "，" + COLOURS_ZH[scene.background] + "背景"
    return text


def words(text: str) -> list:
    """The words of a text as the tokenizers split it (lower case, WORD_PATTERN)."""
    return WORD.findall(text.lower())


def _geometry(scene: Scene, width: int, height: int):
    side = min(width, height)
    out = []
    for it in scene.items:
        (fx, fy), _ = POSITIONS[it.position]
        cx = fx * width + it.dx * side
        cy = fy * height + it.dy * side
        r = SIZES[it.size] * it.scale * side
        out.append((cx, cy, r))
    return out


# Columns of a scene table's items: centre as fractions of (width, height), jitter and radius as
# fractions of the shorter side, shape and colour indices, 1 where the item exists.
ITEM_FIELDS = ["fx", "fy", "dx", "dy", "radius", "shape", "colour", "present"]
MAX_ITEMS = 3


def scene_row(scene: Scene):
    """A scene as numbers: (background index, MAX_ITEMS rows of ITEM_FIELDS), size independent."""
    rows = []
    for it in scene.items:
        (fx, fy), _ = POSITIONS[it.position]
        rows.append([fx, fy, it.dx, it.dy, SIZES[it.size] * it.scale, SHAPES.index(it.shape),
                     COLOUR_NAMES.index(it.colour), 1.0])
    rows += [[0.0] * len(ITEM_FIELDS)] * (MAX_ITEMS - len(rows))
    return COLOUR_NAMES.index(scene.background), rows


def scene_table(scenes, device="cpu"):
    """A batch of scenes as tensors: backgrounds (B,) long and items (B, MAX_ITEMS, fields) float."""
    bgs, items = zip(*(scene_row(s) for s in scenes))
    return (torch.tensor(bgs, dtype=torch.long, device=device),
            torch.tensor(items, dtype=torch.float32, device=device))


def shape_mask(shape_ids: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inside-tests in units of the radius: u right, v down; shape_ids broadcasts against u, v."""
    rho = torch.sqrt(u * u + v * v)
    circle = rho <= 1.0
    square = torch.maximum(u.abs(), v.abs()) <= 0.86
    diamond = (u.abs() + v.abs()) <= 1.2
    big = 1.22  # triangle circumradius: its inradius is half of it
    c30 = math.sqrt(3) / 2
    triangle = (v <= big / 2) & (c30 * u - 0.5 * v <= big / 2) & (-c30 * u - 0.5 * v <= big / 2)
    outer, inner, half = 1.3, 0.52, math.radians(36)
    theta = torch.atan2(u, -v) % (2 * half)
    beta = (theta - half).abs()  # 0 at an inner corner ... 36 degrees at a tip
    beta = half - beta  # angle from the tip's ray
    edge = outer * inner * math.sin(half) / (outer * torch.sin(beta) + inner * torch.sin(half - beta))
    star = rho <= edge
    masks = torch.stack([circle, square, triangle, star, diamond])
    idx = shape_ids.expand_as(u).unsqueeze(0)
    return torch.gather(masks, 0, idx).squeeze(0)


def render(scenes, width: int, height: int, device="cpu", supersample: int = 2) -> torch.Tensor:
    """A batch of scenes as float images in [-1, 1], shape (B, 3, height, width)."""
    bg, items = scene_table(scenes, device)
    return render_table(bg, items, width, height, supersample)


def render_table(bg: torch.Tensor, items: torch.Tensor, width: int, height: int,
                 supersample: int = 2) -> torch.Tensor:
    """`render` from a scene table (on the table's device, with no per-scene Python work)."""
    device = items.device
    b, s, side = bg.shape[0], supersample, min(width, height)
    ys = (torch.arange(height * s, device=device, dtype=torch.float32) + 0.5) / s
    xs = (torch.arange(width * s, device=device, dtype=torch.float32) + 0.5) / s
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    palette = torch.tensor([COLOURS[c] for c in COLOUR_NAMES], device=device, dtype=torch.float32)
    palette = palette / 127.5 - 1.0
    img = palette[bg][:, :, None, None].expand(b, 3, height * s, width * s).clone()
    for k in range(items.shape[1]):
        it = items[:, k]
        cx = it[:, 0] * width + it[:, 2] * side
        cy = it[:, 1] * height + it[:, 3] * side
        r = (it[:, 4] * side).clamp_min(1e-3)
        u = (gx[None] - cx[:, None, None]) / r[:, None, None]
        v = (gy[None] - cy[:, None, None]) / r[:, None, None]
        inside = shape_mask(it[:, 5].long()[:, None, None], u, v) & (it[:, 7] > 0)[:, None, None]
        img = torch.where(inside[:, None], palette[it[:, 6].long()][:, :, None, None], img)
    if s > 1:
        img = torch.nn.functional.avg_pool2d(img, s)
    return img


def classify(image: torch.Tensor) -> torch.Tensor:
    """Index of the nearest named colour of each pixel; image (3, H, W) in [-1, 1]."""
    palette = torch.tensor([COLOURS[c] for c in COLOUR_NAMES], dtype=torch.float32) / 127.5 - 1.0
    px = image.permute(1, 2, 0).reshape(-1, 3).float().cpu()
    d = torch.cdist(px, palette)
    return d.argmin(1).reshape(image.shape[1], image.shape[2])


def score(image: torch.Tensor, scene: Scene) -> dict:
    """Checks an image (3, H, W in [-1, 1]) against its scene.

    - background: the most common named colour away from every object is the scene's background;
    - colour: at each object's place, at least half the pixels of a disc of half its radius have the
      object's colour;
    - shape: of the five shapes drawn at the object's place and size, the object's own overlaps the
      pixels of the object's colour best (intersection over union)."""
    _, h, w = image.shape
    labels = classify(image)
    geo = _geometry(scene, w, h)
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    far = torch.ones(h, w, dtype=torch.bool)
    for cx, cy, r in geo:
        far &= ((xs - cx) ** 2 + (ys - cy) ** 2) > (1.6 * r + 0.06 * min(w, h)) ** 2
    result = {"background": None, "colour": [], "shape": []}
    if far.any():
        counts = torch.bincount(labels[far], minlength=len(COLOUR_NAMES))
        result["background"] = COLOUR_NAMES[int(counts.argmax())] == scene.background
    for it, (cx, cy, r) in zip(scene.items, geo):
        want = COLOUR_NAMES.index(it.colour)
        core = ((xs - cx) ** 2 + (ys - cy) ** 2) <= (0.5 * r) ** 2
        result["colour"].append(bool((labels[core] == want).float().mean() >= 0.5))
        window = ((xs - cx).abs() <= 1.5 * r) & ((ys - cy).abs() <= 1.5 * r)
        drawn = (labels == want) & window
        ious = []
        for sid in range(len(SHAPES)):
            m = shape_mask(torch.tensor(sid), (xs - cx) / r, (ys - cy) / r) & window
            union = (m | drawn).sum().item()
            ious.append((m & drawn).sum().item() / union if union else 0.0)
        result["shape"].append(SHAPES[max(range(len(SHAPES)), key=lambda i: ious[i])] == it.shape)
    return result
