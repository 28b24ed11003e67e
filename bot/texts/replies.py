"""Every reply's wording, in one table; values put into a template are always escaped."""

from __future__ import annotations

from collections.abc import Mapping

from bot.texts.plain import escape, utf16_len
from bot.texts.russian import RUSSIAN

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "ru")


class Html(str):
    """Telegram HTML that is already safe: a template inserts it as it is."""

    __slots__ = ()


def bold(text: str) -> Html:
    return Html(f"<b>{escape(text)}</b>")


def join_html(
    parts: list[Html], separator: str = ", ", budget: int = 1500, language: str = DEFAULT_LANGUAGE
) -> Html:
    """`parts` joined, as many as fit in `budget` UTF-16 units, then "+N more"."""
    shown: list[str] = []
    used = 0
    for index, part in enumerate(parts):
        cost = utf16_len(part) + len(separator)
        if shown and used + cost > budget:
            shown.append(render("more_count", language, count=len(parts) - index))
            break
        shown.append(part)
        used += cost
    return Html(escape(separator).join(shown))


ENGLISH: Mapping[str, str] = {
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
        "/following — the tags you follow, with buttons to change their words\n"
        "<code>/follow Japan only earthquake, tsunami except drill</code> — only the stories "
        "of a tag with (or without) these whole words\n"
        "/latest <i>tag</i> <i>n</i> — the n newest stories (1–20, 5 by default), "
        "e.g. <code>/latest Japan 10</code>; without a tag: across your tags\n"
        "/tags — the most active tags of the last 30 days\n"
        "/search <i>words</i> — search titles and teasers, e.g. "
        '<code>/search "peace treaty" Kuril</code>\n'
        "/settings — instant or digest delivery, quiet hours, link previews, language\n"
        "/timezone <i>zone</i> — e.g. <code>/timezone Europe/Moscow</code> or "
        "<code>/timezone +3</code>\n"
        "/quiet <i>hours</i> — e.g. <code>/quiet 23:00-07:00</code>, <code>/quiet off</code>\n"
        "/mute <i>word</i> — skip stories with a word, e.g. <code>/mute Trump</code>; "
        "/unmute <i>word</i>, /muted\n"
        "/channels — channels you and I administer; "
        "<code>/follow @yourchannel Japan</code> follows a tag there, "
        "<code>/settings @yourchannel</code> sets how it gets them (also /timezone, /quiet, "
        "/mute @yourchannel …)\n"
        "/export — your follows, muted words and settings as a file; send it back with "
        "<code>/import</code> as its caption to restore them (here or in another chat)\n"
        "/help — this message\n\n"
        "Tags ignore case and a leading #: japan, Japan and #Japan are one tag. "
        "In a group, only its admins can change what it follows; in a forum, each topic "
        "follows its own tags."
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
    "following_words_hint": "✎ changes a tag's words, ⌫ clears them.",
    "words_only": "only with {words}",
    "words_skip": "except {words}",
    "followed_words": "🔎 {tags}: {words}.",
    "words_missing": (
        "Add words after <b>{keyword}</b>, separated by commas, e.g. "
        "<code>/follow Japan only earthquake, tsunami except drill</code>. Nothing was changed."
    ),
    "words_invalid": (
        "These cannot be words (a word needs a letter or a digit and has at most 64 "
        "characters): {words}. Nothing was changed."
    ),
    "words_both": "{words}: a word cannot be both after “only” and after “except”. "
    "Nothing was changed.",
    "words_too_many": "A follow has at most {limit} words; you gave {count}. Nothing was changed.",
    "words_no_tag": (
        "Name the tag before its words, e.g. <code>/follow Japan only earthquake</code>. "
        "Nothing was changed."
    ),
    "words_change": (
        "To change the words of {tag}, send the tag again with its new words, e.g.\n"
        "<code>{command} only earthquake, tsunami except drill</code>\n"
        "(“only”, “except” or both; at most {limit} words, whole words, any case)."
    ),
    "button_words_cleared": "{tag}: words cleared, every story of it arrives",
    "button_words_none": "{tag} has no words to clear",
    "taste": "<b>Newest in {tag}:</b>\n{stories}",
    "latest_heading": "Latest in {tag}",
    "latest_heading_chat": "Latest in your tags",
    "latest_none_tag": "No stories tagged {tag} yet. You can /follow it to get the first one.",
    "latest_none_chat": ("No stories in your tags yet. Try <code>/latest Japan</code> or /tags."),
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
    "plain_text": ("I understand commands. Try <code>/follow Japan</code> or /help for the list."),
    "button_expired": "This button no longer works. Send /following or /tags again.",
    "button_followed": "Following {tag}",
    "button_unfollowed": "Stopped following {tag}",
    "button_already": "You already follow {tag}",
    "button_not_following": "You do not follow {tag}",
    "button_limit": "A chat can follow at most {limit} tags",
    "button_admins_only": "Only this group's admins can change what it follows",
    "button_channel_admins_only": "Only this channel's admins can change what it follows",
    "internal_error": (
        "Sorry, something went wrong on my side. It has been logged; please try again."
    ),
    "storage_unavailable": (
        "Sorry, I cannot save anything just now: my storage is full or busy. Nothing was "
        "changed; please try again in a few minutes."
    ),
    "read_more": "Read more",
    "burst_heading": "{count} new stories",
    "digest_heading_hourly": "Your hourly digest: {count} stories",
    "digest_heading_daily": "Your daily digest: {count} stories",
    "digest_heading_quiet": "While it was quiet: {count} stories",
    "command_start": "Welcome and how to use tagwire",
    "command_help": "Every command with an example",
    "command_follow": "Follow tags: /follow Japan, Russia",
    "command_unfollow": "Stop following tags: /unfollow Japan",
    "command_following": "The tags you follow",
    "command_latest": "Newest stories: /latest Japan 10",
    "command_tags": "The most active tags",
    "command_post": "Publish a story: /post URL Title #Tag",
    "command_stats": "Chats, stories and deliveries in numbers",
    "command_feeds": "The feeds and how their last polls went",
    "admin_post_usage": (
        "Publish a story on one line:\n"
        "<code>/post https://example.com/story Title of the story #Japan #Kuril_Islands</code>\n"
        "or on several: the URL, the title, a teaser (optional), the tags last:\n"
        "<code>/post https://example.com/story\nTitle of the story\nA short teaser.\n"
        "Japan, Kuril Islands</code>\n"
        "A picture: send the command as the caption of a photo, or put the picture's URL "
        "right after the story's URL."
    ),
    "admin_post_published": "✅ Published. Chats to notify: {count}.",
    "admin_post_duplicate": (
        "ℹ️ Already published as story {id}: this URL is known, nobody is notified again."
    ),
    "admin_post_rejected": "⚠️ Not published: {field}: {reason}.",
    "admin_stats": (
        "<b>tagwire in numbers</b>\n"
        "Chats: {active} active, {inactive} inactive\n"
        "Subscriptions: {subscriptions}\n"
        "Stories: {stories}\n"
        "Deliveries: {pending} pending, {failed} failed, {sent} sent\n"
        "Last delivery took: {delay}\n"
        "Instances (last minute): {instances}"
    ),
    "role_leader": "leader",
    "role_follower": "follower",
    "command_story": "What became of a story: /story URL",
    "command_retract": "Withdraw a story: /retract URL",
    "admin_story_usage": (
        "Send a story's URL: <code>/story https://example.com/story</code>. The answer says "
        "how many chats it was for, what became of each delivery, and how fast it went out."
    ),
    "admin_story_unknown": "⚠️ No story has this URL: {url}",
    "admin_post_scheduled": (
        "⏰ Scheduled for {when}: held until then, in no list and sent to nobody yet. "
        "<code>/story URL</code> tells how it went once it is out."
    ),
    "report_heading": "Story {id}: {title}",
    "report_url": "{url}",
    "report_held": "Scheduled for {due}: held until then, in no list and sent to nobody yet.",
    "report_released": "Scheduled for {due}; went out at {released}.",
    "report_cancelled": "Cancelled at {when}; it was scheduled for {due} and never went out.",
    "report_no_chats": (
        "Queued for no chat: nobody followed its tags when it went out, or it was stored "
        "without notifying."
    ),
    "report_counts": (
        "For {chats} chats: {sent} sent, {pending} pending, {skipped} skipped, {failed} failed."
    ),
    "report_held_pending": "Waiting for quiet hours to end or for a digest: {count}.",
    "report_skipped": (
        "Skipped: {muted} for a muted word, {inactive} gone away (blocked the bot, left, deleted)."
    ),
    "report_failure": "✗ Failed {count}: {reason}",
    "report_no_reason": "no reason given",
    "report_sends": "First send {first}, last {last}.",
    "report_half": "Half of its chats had it after {after}.",
    "report_half_not_yet": "Half of its chats: not yet.",
    "report_all": "All of its chats had it after {after}.",
    "report_all_not_yet": "All of its chats: not yet, {pending} pending.",
    "report_all_never": "All of its chats: no, {missed} did not get it (skipped or failed).",
    "report_duration_seconds": "{value} s",
    "report_duration_minutes": "{minutes} min {seconds} s",
    "report_duration_hours": "{hours} h {minutes} min",
    # Corrections and retractions (bot/delivery/edits.py, handlers/corrections.py)
    "withdrawn_note": "<i>This story has been withdrawn by its publisher.</i>",
    "report_corrections": (
        "Corrected {corrections} time(s): edited {edited}, already up to date {unchanged}, "
        "edits pending {pending}."
    ),
    "report_retracted": (
        "Retracted at {when}: {cancelled} not sent, deleted {deleted}, replaced by the "
        "withdrawn note {noted} (older than 48 h), pending {pending}."
    ),
    "report_edits_skipped": "Not edited {count}: never sent, or inside a digest.",
    "report_edit_failure": "✗ Edit failed {count}: {reason}",
    "admin_retract_usage": (
        "Usage: <code>/retract URL</code> (or the story's id): withdraws a story, deleting "
        "its teasers where Telegram still allows it."
    ),
    "admin_retract_confirm": (
        "Retract <b>{title}</b>?\n{url}\n\nIt leaves /latest and /search, its pending "
        "deliveries are cancelled and its teasers deleted (older than 48 h: replaced by a "
        "note). This cannot be undone."
    ),
    "admin_retract_button": "Retract",
    "admin_retract_cancel_button": "Cancel",
    "admin_retract_cancelled": "Not retracted: {url}",
    "admin_retract_done": (
        "Retracted: {url}\n{cancelled} pending deliveries cancelled, {deletes} teasers being "
        "deleted."
    ),
    "admin_retract_already": "Already retracted: {url}",
    "admin_retract_gone": "That story no longer exists.",
    "admin_retract_forged": "This button is not valid: nothing was retracted.",
    "admin_retract_not_admin": "Only the bot's admins can retract stories.",
    "admin_stats_no_delay": "no delivery yet",
    "admin_feeds_none": (
        "No feeds yet. On the server: "
        "<code>tagwire feeds add https://example.com/feed.xml --tag Japan</code>"
    ),
    "admin_feeds_heading": "<b>Feeds ({count})</b>",
    "admin_feeds_item": "{number}. {url}\nTags: {tags} · last success: {success}",
    "admin_feeds_error": "⚠️ Last error ({when}, {failures} in a row): {error}",
    "admin_feeds_never": "never",
    "admin_feeds_no_tags": "only the entries' own",
    "admin_feeds_more": "…and {count} more: <code>tagwire feeds list</code> shows them all.",
    "command_resume": "Poll a paused feed again: /resume URL",
    "admin_feeds_paused": "⏸ Paused since {when}, not polled: <code>/resume {url}</code>",
    "admin_resume_usage": (
        "Send the URL of a paused feed, e.g. <code>/resume https://example.com/feed.xml</code>; "
        "/feeds lists the feeds."
    ),
    "admin_resume_unknown": "⚠️ There is no feed {url}; /feeds lists the feeds.",
    "admin_resume_not_paused": "{url} is not paused: it is polled every {interval} s.",
    "admin_resume_done": (
        "▶️ Resumed {url}: it is polled again within {interval} s. I will tell you when it "
        "works again."
    ),
    "alert_feed_failing": (
        "⚠️ <b>A feed keeps failing</b>\n{url}\n{count} polls in a row have failed. "
        "The last error: {error}"
    ),
    "alert_feed_pause_note": "It is paused (no longer polled) after {count} in a row.",
    "alert_feed_paused": (
        "⏸ <b>A feed is paused</b>\n{url}\nIt failed {count} polls in a row and is no longer "
        "polled. Resume it with <code>/resume {url}</code> or "
        "<code>tagwire feeds resume {url}</code>."
    ),
    "alert_feed_over": (
        "✅ <b>A feed works again</b>\n{url}\nIt had not worked since {since} ({duration})."
    ),
    "alert_outbox": (
        "⚠️ <b>Deliveries are late</b>\nThe oldest due delivery has waited {age}; {pending} "
        "are pending. The outbox is stuck or too slow: /stats and the bot's log say more."
    ),
    "alert_outbox_over": "✅ <b>Deliveries are on time again</b> (late from {since}, {duration}).",
    "alert_telegram": (
        "⚠️ <b>Telegram unreachable</b> since {since}, more than {threshold}: deliveries and "
        "replies wait for it."
    ),
    "alert_telegram_over": (
        "✅ <b>Telegram reachable again</b> after {duration} (unreachable from {since}); what "
        "waited is going out."
    ),
    "alert_database": (
        "🛑 <b>The database refuses writes</b>\n{reason}\nNew stories and commands that write "
        "are refused (sending them again later is safe); deliveries go on with what the bot "
        "holds."
    ),
    "alert_database_over": (
        "✅ <b>The database takes writes again</b> (refused from {since}, {duration})."
    ),
    "alert_more": "…and {count} more: /feeds, /stats and the bot's log say more.",
    "duration_seconds": "{count} s",
    "duration_minutes": "{count} min",
    "duration_hours": "{hours} h {minutes} min",
    "duration_days": "{days} d {hours} h",
    "command_search": "Search stories: /search Kuril",
    "command_settings": "Delivery, quiet hours, previews, language",
    "command_mute": "Skip stories with a word: /mute Trump",
    "command_unmute": "Stop skipping a word",
    "command_muted": "The words you skip",
    "command_timezone": "Your time zone: /timezone Europe/Moscow",
    "command_quiet": "Quiet hours: /quiet 23:00-07:00",
    "command_channels": "Channels you manage with me",
    "command_export": "Your follows, muted words and settings as a file",
    "command_import": "Restore them from that file",
    "export_caption": (
        "📦 Follows: {follows}, muted words: {muted}, and the settings. Send this file back "
        "with <code>/import</code> as its caption (or reply <code>/import</code> to it) to "
        "restore them, here or in another chat."
    ),
    "import_usage": (
        "Send the file /export made with <code>/import</code> as its caption, or reply "
        "<code>/import</code> to it."
    ),
    "import_download_failed": "⚠️ I could not download the file. Try again in a moment.",
    "import_problem": "⚠️ I cannot import this file: {reason}. Nothing was changed.",
    "import_too_big": "it is larger than {limit} KB",
    "import_not_json": "it is not a JSON file (/export makes one)",
    "import_not_tagwire": "it is not a tagwire export",
    "import_version": "it is of version {value}, and I read version {version}",
    "import_bad_value": "{where} has a value I do not accept: “{value}”",
    "import_unknown_field": "{where} is not something I know",
    "import_too_many_words": (
        "{where} ({value}) has {count} words, and a follow has at most {limit}"
    ),
    "import_too_many_tags": "it follows more than {limit} tags in one place",
    "import_too_many_muted": "it mutes {count} words, and a chat mutes at most {limit}",
    "import_topics": "{where} ({value}) names a forum topic, and this chat has no topics",
    "import_preview": (
        "<b>Importing this file will:</b>\n{changes}\n\nConfirm to apply it all at once."
    ),
    "import_follow_added": "➕ follow {tags}",
    "import_follow_removed": "➖ stop following {tags}",
    "import_follow_words": "✎ {tag}: {words}",
    "import_words_none": "every story of the tag",
    "import_in_topic": "{tag} (topic {topic})",
    "import_mute_added": "🔇 mute {words}",
    "import_mute_removed": "🔈 unmute {words}",
    "import_setting": "⚙️ {name}: {old} → {new}",
    "import_name_language": "language",
    "import_name_delivery": "delivery",
    "import_name_hour": "digest hour",
    "import_name_timezone": "time zone",
    "import_name_quiet": "quiet hours",
    "import_name_previews": "link previews",
    "import_name_bursts": "bursts in one message",
    "import_name_pictures": "pictures",
    "import_language_auto": "each reader's own",
    "import_nothing": "This file matches what is set here already: nothing to change.",
    "import_confirm": "✅ Import",
    "import_cancel": "✖ Cancel",
    "import_done": "✅ Imported. Follows: {follows}, muted words: {muted}, and the settings.",
    "import_cancelled": "Import cancelled: nothing was changed.",
    "import_expired": "This import is no longer available: send the file again with /import.",
    "more_count": "+{count} more",
    "tag_reason_empty": "a tag needs at least one letter, digit or emoji",
    "tag_reason_too_long": "a tag has at most 64 characters",
    "channel_scope": "Channel {channel}:",
    "channel_not_found": "I cannot find the channel {channel}. Check its @name.",
    "channel_not_channel": "{channel} is not a channel.",
    "channel_not_admin": "Only the administrators of {channel} can change what it follows.",
    "channel_bot_not_admin": (
        "Add me to {channel} as an administrator who can post messages, then try again."
    ),
    "channels_none": (
        "I know no channel that you and I both administer. Add me to your channel as an "
        "administrator, then use <code>/follow @yourchannel Japan</code>."
    ),
    "channels_pick": "Channels you and I administer — tap one to choose its tags:",
    "channel_manage": (
        "Tap a tag to follow it in {channel}; ✓ marks the ones it follows. "
        "Any other tag: <code>/follow {channel} Japan</code>."
    ),
    "search_usage": (
        "Send words to look for, e.g. <code>/search Kuril Islands</code> or "
        '<code>/search "peace treaty"</code>.'
    ),
    "search_heading": "Search: {query}",
    "search_page": "(from {first})",
    "search_none": "No story matches “{query}”.",
    "search_invalid": (
        "⚠️ I could not understand that search ({reason}). Use plain words, "
        '"a phrase in quotes", OR and NOT.'
    ),
    "search_more": "More ▶",
    "search_back": "◀ Back",
    "search_no_more": "No more results",
    "search_prefix_short": (
        "⚠️ A word ending in * needs at least {min} letters before the * (“{word}” has "
        "fewer). Add letters, or leave out the *."
    ),
    "search_too_many_prefixes": (
        "⚠️ A search may have at most {max} words ending in *. Leave some out, or write them whole."
    ),
    "search_too_many_terms": "⚠️ A search may have at most {max} words and phrases. Leave some out.",
    "search_too_slow": (
        "⚠️ That search takes too long. Use fewer words ending in *, or add words that "
        "narrow it, then try again."
    ),
    "search_results_cap": (
        "I show only the first {max} results of a search: add words to narrow it down."
    ),
    "settings_heading": "<b>Settings of this chat</b>",
    "settings_heading_channel": "<b>Settings of {channel}</b>",
    "settings_text": (
        "{heading}\n\n"
        "Delivery: {mode}\n"
        "Quiet hours: {quiet}\n"
        "Time zone: {timezone}\n"
        "Link previews: {previews}\n"
        "Several stories at once in one message: {bursts}\n"
        "Pictures: {pictures}\n"
        "Language: {language_name}\n\n"
        "Time zone: <code>/timezone Europe/Moscow</code>; other quiet hours: "
        "<code>/quiet 22:30-06:30</code>."
    ),
    "settings_mode_instant": "Instant",
    "settings_mode_hourly": "Every hour",
    "settings_mode_daily": "Daily",
    "settings_mode_daily_at": "Daily at {hour}",
    "settings_quiet_off": "No quiet hours",
    "settings_on": "on",
    "settings_off": "off",
    "settings_previews_on": "Link previews: on",
    "settings_previews_off": "Link previews: off",
    "settings_bursts_on": "Bursts in one message: on",
    "settings_bursts_off": "Bursts in one message: off",
    "settings_pictures_photo": "Photo",
    "settings_pictures_preview": "Above the text",
    "settings_pictures_off": "No pictures",
    "settings_saved": "Saved",
    "language_name": "English",
    "timezone_usage": (
        "This chat's time zone is {timezone}. Set it with "
        "<code>/timezone Europe/Moscow</code> or an offset such as <code>/timezone +3</code>."
    ),
    "timezone_invalid": "⚠️ “{raw}” is not a time zone I know: {reason}.",
    "timezone_set": "Time zone set to {timezone} (it is {time} there now).",
    "quiet_usage": (
        "Quiet hours: {quiet}. Stories that arrive then wait and come as one message when "
        "they end. Set them with <code>/quiet 23:00-07:00</code>, or <code>/quiet off</code>."
    ),
    "quiet_invalid": "⚠️ “{raw}” are not quiet hours I understand: {reason}.",
    "quiet_set": (
        "Quiet hours set to {quiet} ({timezone}). Stories arriving then come as one message "
        "when they end."
    ),
    "quiet_off": "Quiet hours are off: stories arrive as they are published.",
    "reason_timezone_empty": "it is empty",
    "reason_offset_range": "offsets run from -14:00 to +14:00",
    "reason_timezone_unknown": "use a name such as Europe/Moscow or an offset such as +3",
    "reason_quiet_format": "write them as 23:00-07:00, or off",
    "reason_quiet_same": "they start and end at the same time",
    "reason_clock_range": "times run from 00:00 to 24:00",
    "mute_usage": (
        "Send a word to mute, e.g. <code>/mute Trump</code> (several: "
        "<code>/mute Trump, Brexit</code>). Stories whose title or teaser contain it are "
        "not sent here. At most {limit} words."
    ),
    "muted_added": "🔇 Muted {words}: stories with them will not be sent here.",
    "muted_already": "Already muted: {words}.",
    "muted_limit": "⚠️ A chat can mute at most {limit} words; not muted: {words}.",
    "mute_invalid": "⚠️ “{raw}” cannot be muted: use a word of at most {limit} characters.",
    "unmute_usage": (
        "Send a muted word to unmute, e.g. <code>/unmute Trump</code>; /muted lists them."
    ),
    "unmuted": "🔈 Unmuted {words}.",
    "not_muted": "Not muted: {words}.",
    "muted_none": "No muted words. <code>/mute Trump</code> skips stories with that word.",
    "muted_list": "<b>Muted words ({count} of {limit}):</b> {words}",
    "too_many_commands": (
        "⏳ That is a lot of commands at once. I will answer again in {seconds} s."
    ),
}

MESSAGES: Mapping[str, Mapping[str, str]] = {"en": ENGLISH, "ru": RUSSIAN}


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
