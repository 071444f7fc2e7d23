"""Images stored in the bot's repo: round-ready avatars and the social preview (``predictions.png``).

Only Pillow's bundled font is used, so the same metadata and avatars give the same PNG bytes on
every machine (re-publishing then finds nothing changed).
"""

from __future__ import annotations

import io
from pathlib import Path

from huggingtweets.card.escape import one_line

AVATAR_SIZE = 256
PREVIEW_SIZE = (1200, 630)  # the social-card size most sites crop to
_BG = (255, 255, 255)
_INK = (17, 24, 39)
_MUTED = (107, 114, 128)
_BOX = (243, 244, 246)


def _png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def placeholder_avatar(size: int = AVATAR_SIZE):
    """A neutral grey silhouette, for users whose avatar we do not have."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), (209, 213, 219))
    draw = ImageDraw.Draw(img)
    s = size
    draw.ellipse((s * 0.32, s * 0.16, s * 0.68, s * 0.52), fill=(156, 163, 175))
    draw.ellipse((s * 0.14, s * 0.58, s * 0.86, s * 1.18), fill=(156, 163, 175))
    return img


def load_avatar(source: Path | None, size: int = AVATAR_SIZE):
    """(square RGB image, is_placeholder): the avatar cropped to a centred square, or the placeholder."""
    from PIL import Image, UnidentifiedImageError

    if source is None or not Path(source).is_file():
        return placeholder_avatar(size), True
    try:
        with Image.open(source) as im:
            im = im.convert("RGB")
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            return im.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS), False
    except (UnidentifiedImageError, OSError):
        # A corrupt or unsupported avatar must not stop the card: fall back to the placeholder.
        return placeholder_avatar(size), True


def avatar_png(source: Path | None) -> tuple[bytes, bool]:
    image, placeholder = load_avatar(source)
    return _png(image), placeholder


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _fit(text: str, font, width: int) -> str:
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _wrap(text: str, font, width: int, max_lines: int) -> list[str]:
    words, lines, line = " ".join(text.split()).split(" "), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        if len(lines) == max_lines:
            break
    if line and len(lines) < max_lines:
        lines.append(line)
    if len(lines) == max_lines and " ".join(lines) != " ".join(words):
        lines[-1] = _fit(lines[-1] + " …", font, width)
    return [_fit(ln, font, width) for ln in lines]


def preview_png(users: list[dict], avatars: list, sample: str | None) -> bytes:
    """The social preview: up to three round avatars, kind, names, handles and one sample."""
    from PIL import Image, ImageDraw

    width, height = PREVIEW_SIZE
    img = Image.new("RGB", PREVIEW_SIZE, _BG)
    draw = ImageDraw.Draw(img)
    side, gap = 150, 24
    shown = avatars[:3]
    x = (width - (len(shown) * side + (len(shown) - 1) * gap)) // 2
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, side - 1, side - 1), fill=255)
    for avatar in shown:
        img.paste(avatar.resize((side, side), Image.LANCZOS), (x, 40), mask)
        x += side + gap

    def centred(text: str, y: int, size: int, fill) -> None:
        font = _font(size)
        text = _fit(text, font, width - 80)
        draw.text(((width - font.getlength(text)) / 2, y), text, font=font, fill=fill)

    centred("AI CYBORG" if len(users) > 1 else "AI BOT", 205, 30, _MUTED)
    # A name with line breaks or bidi overrides would spill over the lines below it.
    centred(" & ".join(one_line(u["name"]) for u in users), 245, 44, _INK)
    centred(" ".join("@" + one_line(u["handle"]) for u in users), 300, 30, _MUTED)
    if sample:
        draw.rounded_rectangle((60, 360, width - 60, height - 40), radius=24, fill=_BOX)
        font = _font(30)
        for i, line in enumerate(_wrap(f"“{sample}”", font, width - 180, 5)):
            draw.text((90, 385 + i * 42), line, font=font, fill=_INK)
    return _png(img)
