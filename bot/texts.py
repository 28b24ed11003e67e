"""Every reply's wording, in one table; values put into a template are always escaped."""

from __future__ import annotations

from collections.abc import Mapping

from bot.text import escape, utf16_len

DEFAULT_LANGUAGE = "en"


class Html(str):
    """Telegram HTML that is already safe: a template inserts it as it is."""

    __slots__ = ()


def bold(text: str) -> Html:
    return Html(f"<b>{escape(text)}</b>")


def join_html(parts: list[Html], separator: str = ", ", budget: int = 1500) -> Html:
    """`parts` joined, as many as fit in `budget` UTF-16 units, then "+N more"."""
    shown: list[str] = []
    used = 0
    for index, part in enumerate(parts):
        cost = utf16_len(part) + len(separator)
        if shown and used + cost > budget:
            shown.append(escape(f"+{len(parts) - index} more"))
            break
        shown.append(part)
        used += cost
    return Html(escape(separator).join(shown))


MESSAGES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "start": (
            "<b>Welcome to tagwire!</b> I send you a story the moment it is published "
            "with a tag you follow.\n\n"
            "1. /follow Japan — follow a tag (several: /follow Japan, Russia)\n"
            "2. /latest Japan — the newest stories of a tag\n"
            "3. /tags — the most active tags, /help — every command"
        ),
        "help": (
            "<b>What I can do</b>\n\n"
            "/follow <i>tag</i> — follow tags, e.g. <code>/follow Japan, Kuril Islands</code>; "
            "without a tag: popular tags to tap\n"
            "/unfollow <i>tag</i> — stop following, e.g. <code>/unfollow Japan</code>, "
            "<code>/unfollow all</code>; without a tag: your tags to tap\n"
            "/following — the tags you follow\n"
            "/latest <i>tag</i> <i>n</i> — the n newest stories (1–20, 5 by default), "
            "e.g. <code>/latest Japan 10</code>; without a tag: across your tags\n"
            "/tags — the most active tags of the last 30 days\n"
            "/help — this message\n\n"
            "Tags ignore case and a leading #: japan, Japan and #Japan are one tag. "
            "In a group, only its admins can change what it follows."
        ),
        "start_link_invalid": "That link does not name a tag I can follow.",
        "followed": "✅ Now following {tags}. New stories arrive here as they are published.",
        "already_following": "You already follow {tags}.",
        "new_tag": "🆕 No story is tagged {tag} yet: you will get the first one.",
        "did_you_mean": "Did you mean {tags}?",
        "tag_limit": (
            "⚠️ A chat can follow at most {limit} tags; not followed: {tags}. /unfollow some first."
        ),
        "invalid_tag": "⚠️ “{raw}” is not a tag: {reason}.",
        "share_link": "Share: {link}",
        "follow_pick": (
            "Tap a tag to follow it, or send <code>/follow Japan</code> with any tag "
            "(several: <code>/follow Japan, Russia</code>)."
        ),
        "follow_pick_empty": (
            "No stories yet. Send <code>/follow Japan</code> to follow a tag: "
            "you will get its first story."
        ),
        "unfollowed": "Stopped following {tags}.",
        "unfollowed_all": "Stopped following every tag ({count}).",
        "not_following": "You do not follow {tags}.",
        "unfollow_pick": "Tap a tag to stop following it:",
        "following_none": (
            "You do not follow any tags yet. Try <code>/follow Japan</code> or see /tags."
        ),
        "following_list": "<b>Tags you follow ({count}):</b>\n{tags}\n\nTap one to unfollow it.",
        "latest_heading": "Latest in {tag}",
        "latest_heading_chat": "Latest in your tags",
        "latest_none_tag": "No stories tagged {tag} yet. You can /follow it to get the first one.",
        "latest_none_chat": (
            "No stories in your tags yet. Try <code>/latest Japan</code> or /tags."
        ),
        "latest_no_tags": (
            "You do not follow any tags yet, so there is nothing of yours to show. "
            "Try <code>/latest Japan</code> or <code>/follow Japan</code>."
        ),
        "latest_bad_count": (
            "⚠️ “{raw}” is not a number of stories I can show: use 1 to {max}, "
            "e.g. <code>/latest Japan 10</code>."
        ),
        "latest_more": "…and {n} more that do not fit in one message.",
        "unknown_tag": "I know no tag “{raw}”.",
        "unknown_tag_no_suggestions": (
            "I know no tag “{raw}”. /tags lists the active ones; you can also /follow it "
            "to get its first story."
        ),
        "tags_heading": "<b>Most active tags</b>",
        "tags_line": (
            "{number}. {tag} — stories: {total} (30 days: {recent}) · followers: {followers}"
        ),
        "tags_none": "No stories yet. An operator can push some with <code>tagwire push</code>.",
        "tags_footer": "Tap a tag to follow it; ✓ marks the ones you follow.",
        "group_admins_only": "Only this group's admins can change what it follows.",
        "unknown_command": "I do not know {command}. /help lists what I can do.",
        "plain_text": (
            "I understand commands. Try <code>/follow Japan</code> or /help for the list."
        ),
        "button_expired": "This button no longer works. Send /following or /tags again.",
        "button_followed": "Following {tag}",
        "button_unfollowed": "Stopped following {tag}",
        "button_already": "You already follow {tag}",
        "button_not_following": "You do not follow {tag}",
        "button_limit": "A chat can follow at most {limit} tags",
        "button_admins_only": "Only this group's admins can change what it follows",
        "internal_error": (
            "Sorry, something went wrong on my side. It has been logged; please try again."
        ),
        "read_more": "Read more",
        "command_start": "Welcome and how to use tagwire",
        "command_help": "Every command with an example",
        "command_follow": "Follow tags: /follow Japan, Russia",
        "command_unfollow": "Stop following tags: /unfollow Japan",
        "command_following": "The tags you follow",
        "command_latest": "Newest stories: /latest Japan 10",
        "command_tags": "The most active tags",
    },
}


def render(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> Html:
    """The message `key` in `language` (English when missing), with `values` escaped unless
    they are Html already."""
    table = MESSAGES.get(language, MESSAGES[DEFAULT_LANGUAGE])
    template = table.get(key) or MESSAGES[DEFAULT_LANGUAGE][key]
    safe = {
        name: value if isinstance(value, Html) else escape(str(value))
        for name, value in values.items()
    }
    return Html(template.format(**safe))


def plain(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The message `key` as plain text (button labels, callback answers): nothing escaped."""
    table = MESSAGES.get(language, MESSAGES[DEFAULT_LANGUAGE])
    template = table.get(key) or MESSAGES[DEFAULT_LANGUAGE][key]
    return template.format(**{name: str(value) for name, value in values.items()})
