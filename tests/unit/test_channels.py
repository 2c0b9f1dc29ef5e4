"""Channels as prompt folders: the four shipped ones load and hash, SEGCOPY_CHANNELS selects,
a broken config names its file, answers parse per field, the offline writer stays within every
channel's limits and checks on the whole sample, and a fifth channel is only a folder."""

import shutil

import polars as pl
import pytest

from segcopy_assets.core.segments import compute_segment_summaries
from segcopy_assets.devtools.sample_data import write_sample_customers
from segcopy_assets.devtools.sample_products import sample_products_frame
from segcopy_assets.errors import PromptError, SettingsError
from segcopy_assets.generation.channels import channel_names, load_channel, selected_channels
from segcopy_assets.generation.offline_channels import write_offline_channel

SHIPPED = ["email_subject", "push", "sms", "web_description"]


@pytest.fixture
def prompts(tmp_path, prompts_dir):
    copy = tmp_path / "prompts"
    shutil.copytree(prompts_dir, copy)
    return copy


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample's 14 segment summaries and 14 products."""
    path = tmp_path_factory.mktemp("channels") / "customers"
    write_sample_customers(str(path), n=4_000)
    summaries = compute_segment_summaries(pl.scan_delta(str(path)))
    return summaries.to_dicts(), sample_products_frame().to_dicts()


def judged(channel, answer, segment, product):
    return channel.judge(answer, segment, product)


def test_shipped_channels_and_selection(prompts_dir):
    assert channel_names(prompts_dir) == SHIPPED
    assert selected_channels(None, prompts_dir) == SHIPPED
    assert selected_channels(" sms, push ,sms", prompts_dir) == ["sms", "push"]
    with pytest.raises(SettingsError, match="SEGCOPY_CHANNELS: unknown channel.* mms; defined"):
        selected_channels("sms,mms", prompts_dir)


def test_web_description_uses_the_root_prompt_set(prompts_dir):
    web = load_channel(prompts_dir, "web_description", backend="offline")
    sms = load_channel(prompts_dir, "sms", backend="offline")
    assert web.prompt_set.system_source == (prompts_dir / "system.md.j2").read_text()
    assert sms.prompt_set.system_source == (prompts_dir / "channels/sms/system.md.j2").read_text()
    assert sms.limits == {"message": {"max_sms_segments": 1}}
    assert len({web.hash, sms.hash}) == 2


def test_hash_moves_with_the_channel_config_only(prompts):
    before = {n: load_channel(prompts, n, backend="offline").hash for n in SHIPPED}
    config = prompts / "channels/push/config.toml"
    config.write_text(config.read_text().replace("max_chars = 40", "max_chars = 38"))
    after = {n: load_channel(prompts, n, backend="offline").hash for n in SHIPPED}
    assert [n for n in SHIPPED if before[n] != after[n]] == ["push"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('fields = ["title", "body"]', "fields = []"), r"push/config.toml: \[channel\] fields"),
        (
            ("max_chars = 40", "max_chars = -1"),
            r"\[limits.title\] max_chars must be a whole number",
        ),
        (("max_chars = 40", "max_words = 4"), r"\[limits.title\] unknown key\(s\) max_words"),
        (("shouting = true", "shout = true"), r"unknown \[checks\] key\(s\) shout"),
        (("[limits.body]", "[limits.bodytext]"), r"\[limits.bodytext\] names no field"),
        (("[checks]", "[checks"), r"push/config.toml: not valid TOML"),
    ],
)
def test_broken_config_names_file_and_key(prompts, edit, message):
    config = prompts / "channels/push/config.toml"
    config.write_text(config.read_text().replace(*edit))
    with pytest.raises(PromptError, match=message):
        load_channel(prompts, "push", backend="offline")


def test_unknown_placeholder_in_a_channel_template_names_the_file(prompts):
    template = prompts / "channels/sms/user.md.j2"
    template.write_text(template.read_text() + "{{ coupon_code }}")
    with pytest.raises(PromptError, match="sms/user.md.j2.*coupon_code"):
        load_channel(prompts, "sms", backend="offline")


def test_answers_parse_per_field(prompts_dir):
    push = load_channel(prompts_dir, "push", backend="offline")
    values, rationale, problem = push.parse(
        "**Title:** Ridge 2 Tent\nbody: Two doors, 1.9 kg.\n\n**Rationale:** Light gear first."
    )
    assert values == {"title": "Ridge 2 Tent", "body": "Two doors, 1.9 kg."}
    assert rationale == "Light gear first." and problem is None
    _, _, problem = push.parse("Title: Ridge 2 Tent\n\n**Rationale:** Light gear first.")
    assert problem == "the answer has no Body line"
    sms = load_channel(prompts_dir, "sms", backend="offline")
    assert sms.parse("Hi there\n\nRationale: why")[0] == {"message": "Hi there"}


@pytest.mark.parametrize("name", ["email_subject", "sms", "push"])
def test_offline_writer_passes_every_check_on_the_sample(prompts_dir, sample, name):
    channel = load_channel(prompts_dir, name, backend="offline")
    summaries, products = sample
    failures = [
        (s["segment_id"], p["product_id"], v.check, v.reason)
        for s in summaries
        for p in products
        for v in judged(channel, write_offline_channel(channel, s, p), s, p)
        if not v.passed
    ]
    assert failures == []
    answer = write_offline_channel(channel, summaries[0], products[0])
    assert answer == write_offline_channel(channel, summaries[0], products[0])  # deterministic


def test_a_fifth_channel_is_a_folder(prompts, sample):
    folder = prompts / "channels/in_app_banner"
    folder.mkdir()
    for template in ("system.md.j2", "user.md.j2"):
        shutil.copy(prompts / "channels/push" / template, folder / template)
    (folder / "config.toml").write_text(
        '[channel]\ndescription = "In-app banner"\nfields = ["headline", "cta"]\n'
        'labels = { cta = "Button" }\n\n[limits.headline]\nmax_chars = 30\n\n'
        "[limits.cta]\nmax_chars = 18\n\n[checks]\nshouting = true\n"
    )
    assert "in_app_banner" in channel_names(prompts)
    assert selected_channels("in_app_banner", prompts) == ["in_app_banner"]
    banner = load_channel(prompts, "in_app_banner", backend="offline")
    summaries, products = sample
    for product in products:
        answer = write_offline_channel(banner, summaries[0], product)
        assert "\nButton: " in answer
        failed = [v for v in judged(banner, answer, summaries[0], product) if not v.passed]
        assert failed == []
        values, _, _ = banner.parse(answer)
        assert 0 < len(values["headline"]) <= 30 and 0 < len(values["cta"]) <= 18


def test_arms_take_the_angles_the_channel_names(prompts_dir, prompts):
    sms = load_channel(prompts_dir, "sms", backend="offline")
    assert sms.arms(1) == [(0, None)]  # one arm: the prompt as it is (today's hash)
    assert sms.arm_prompt_set(None).hash == sms.hash
    assert sms.arms(2) == [(0, "performance"), (1, "dependability")]
    hashes = {sms.arm_prompt_set(a).hash for _, a in sms.arms(3)}
    assert len(hashes) == 3 and sms.hash not in hashes
    with pytest.raises(PromptError, match="SEGCOPY_VARIANTS_PER_PAIR=4, but channel 'sms' names 3"):
        sms.arms(4)
    config = prompts / "channels/sms/config.toml"
    config.write_text(config.read_text().replace('"dependability"', '"performance"'))
    with pytest.raises(PromptError, match=r"sms/config.toml: \[channel\] angles must be"):
        load_channel(prompts, "sms", backend="offline")


@pytest.mark.parametrize("name", ["email_subject", "sms", "push"])
def test_offline_arms_differ_and_pass_the_checks(prompts_dir, sample, name):
    from segcopy_assets.generation.channel_runs import arms

    channel = load_channel(prompts_dir, name, backend="offline")
    summaries, products = sample
    for product in products[:5]:
        answers = []
        for arm in arms(channel, 3):
            ((segment, arm_product),) = arm.pairs([(summaries[0], product)])
            answer = write_offline_channel(channel, segment, arm_product)
            assert [v for v in judged(channel, answer, segment, product) if not v.passed] == []
            assert f"{arm.angle}, the angle of this variant" in answer
            answers.append(channel.parse(answer)[0])
        assert len({tuple(a.values()) for a in answers}) == 3  # three different variants
