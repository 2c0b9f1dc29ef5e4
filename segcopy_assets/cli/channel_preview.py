"""``segcopy preview --channel <name>`` for a channel with its own templates: the rendered
prompt, the answer's fields as they will be sent, each field's length against its limits (an
SMS's messages and encoding), and the channel checks' verdicts."""

import asyncio

from segcopy_assets.core import sms


def preview_channel(copywriter, channel, segment: dict, product: dict) -> int:
    """Print the preview; 0, or 1 when an ERROR check fails (the copy would not be published)."""
    messages = channel.render(segment, product)
    writer = copywriter.writer(channel.prompt_set, channel)
    copywriter.preflight()

    async def one():
        async with writer:
            return await writer.write(segment, product, messages)

    completion = asyncio.run(one())
    values, rationale, _ = channel.parse(completion.text)
    print(
        f"=== channel {channel.name} ({channel.description}); backend "
        f"{channel.prompt_set.backend}, model {channel.prompt_set.params.name}, channel hash "
        f"{channel.hash}"
    )
    for message in messages:
        print(f"\n=== {message['role']} prompt\n{message['content']}")
    print(f"\n=== original\n{product['description']}")
    print(f"\n=== {channel.name} for {segment['segment_id']}")
    for field in channel.fields:
        text = values.get(field, "")
        print(f"{channel.labels[field]}: {text}")
        print(f"  ({_measure(text, channel.limits.get(field, {}))})")
    print(f"\n=== rationale\n{rationale or '(missing)'}")
    verdicts = channel.judge(completion.text, segment, product)
    failed = [v for v in verdicts if not v.passed]
    print(f"\n=== checks: {len(verdicts) - len(failed)} of {len(verdicts)} pass")
    for v in failed:
        print(f"{v.severity} {v.check}: {v.reason}")
    print(
        f"\n=== tokens: {completion.prompt_tokens} prompt, {completion.completion_tokens} "
        f"completion; {completion.latency_ms:.0f} ms"
    )
    return 1 if any(v.severity == "ERROR" for v in failed) else 0


def _measure(text: str, limits: dict) -> str:
    parts = [
        f"{len(text)} characters" + (f" of {limits['max_chars']}" if "max_chars" in limits else "")
    ]
    if "max_sms_segments" in limits:
        counted = sms.count(text)
        plural = "message" if counted.segments == 1 else "messages"
        parts.append(
            f"{counted.encoding}, {counted.units} of {counted.single_limit} per message: "
            f"{counted.segments} SMS {plural}"
        )
    return "; ".join(parts)
