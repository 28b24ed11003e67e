"""Russian wording of every reply; the keys and placeholders are those of bot/texts/replies.py."""

from __future__ import annotations

from collections.abc import Mapping

RUSSIAN: Mapping[str, str] = {
    "start": (
        "<b>Добро пожаловать в tagwire!</b> Я присылаю новость, как только она выходит "
        "с тегом, на который вы подписаны.\n\n"
        "1. /follow Japan — подписаться на тег (несколько: /follow Japan, Russia)\n"
        "2. /latest Japan — самые свежие новости по тегу\n"
        "3. /tags — самые активные теги, /help — все команды"
    ),
    "help": (
        "<b>Что я умею</b>\n\n"
        "/follow <i>тег</i> — подписаться, например <code>/follow Japan, Kuril Islands</code>; "
        "без тега: популярные теги кнопками\n"
        "/unfollow <i>тег</i> — отписаться, например <code>/unfollow Japan</code>, "
        "<code>/unfollow all</code>; без тега: ваши теги кнопками\n"
        "/following — ваши подписки и кнопки, чтобы менять их слова\n"
        "<code>/follow Япония только землетрясение, цунами кроме учения</code> — только "
        "новости тега с этими целыми словами (или без них)\n"
        "/latest <i>тег</i> <i>n</i> — n последних новостей (1–20, по умолчанию 5), "
        "например <code>/latest Japan 10</code>; без тега: по всем вашим тегам\n"
        "/tags — самые активные теги за 30 дней\n"
        "/search <i>слова</i> — поиск по заголовкам и анонсам, например "
        '<code>/search "peace treaty" Kuril</code>\n'
        "/settings — сразу или дайджестом, тихие часы, превью ссылок, язык\n"
        "/timezone <i>пояс</i> — например <code>/timezone Europe/Moscow</code> или "
        "<code>/timezone +3</code>\n"
        "/quiet <i>часы</i> — например <code>/quiet 23:00-07:00</code>, <code>/quiet off</code>\n"
        "/mute <i>слово</i> — пропускать новости со словом, например <code>/mute Trump</code>; "
        "/unmute <i>слово</i>, /muted\n"
        "/channels — каналы, где мы оба администраторы; "
        "<code>/follow @вашканал Japan</code> подписывает канал, "
        "<code>/settings @вашканал</code> — его настройки (и /timezone, /quiet, "
        "/mute @вашканал …)\n"
        "/export — подписки, пропускаемые слова и настройки файлом; отправьте его обратно "
        "с подписью <code>/import</code>, чтобы восстановить их (здесь или в другом чате)\n"
        "/help — это сообщение\n\n"
        "Регистр и # в начале не важны: japan, Japan и #Japan — один тег. "
        "В группе подписки меняют только администраторы; в форуме у каждой темы свои теги."
    ),
    "start_link_invalid": "Эта ссылка не указывает на тег, на который можно подписаться.",
    "followed": "✅ Подписка оформлена: {tags}. Новости будут приходить сюда сразу после выхода.",
    "already_following": "Вы уже подписаны: {tags}.",
    "new_tag": "🆕 Новостей с тегом {tag} пока нет: вы получите первую.",
    "did_you_mean": "Может быть, вы имели в виду {tags}?",
    "tag_limit": (
        "⚠️ Чат может подписаться не более чем на {limit} тегов; не подписан: {tags}. "
        "Сначала отпишитесь от чего-нибудь (/unfollow)."
    ),
    "invalid_tag": "⚠️ «{raw}» — не тег: {reason}.",
    "share_link": "Поделиться: {link}",
    "follow_pick": (
        "Нажмите на тег, чтобы подписаться, или отправьте <code>/follow Japan</code> с любым "
        "тегом (несколько: <code>/follow Japan, Russia</code>)."
    ),
    "follow_pick_empty": (
        "Новостей пока нет. Отправьте <code>/follow Japan</code>, чтобы подписаться на тег: "
        "вы получите его первую новость."
    ),
    "unfollowed": "Подписка отменена: {tags}.",
    "unfollowed_all": "Все подписки отменены ({count}).",
    "not_following": "Вы не подписаны на {tags}.",
    "unfollow_pick": "Нажмите на тег, чтобы отписаться:",
    "following_none": (
        "У вас пока нет подписок. Попробуйте <code>/follow Japan</code> или посмотрите /tags."
    ),
    "following_list": ("<b>Ваши теги ({count}):</b>\n{tags}\n\nНажмите на тег, чтобы отписаться."),
    "following_words_hint": "✎ меняет слова тега, ⌫ убирает их.",
    "words_only": "только со словами {words}",
    "words_skip": "кроме {words}",
    "followed_words": "🔎 {tags}: {words}.",
    "words_missing": (
        "Добавьте слова после <b>{keyword}</b> через запятую, например "
        "<code>/follow Япония только землетрясение, цунами кроме учения</code>. "
        "Ничего не изменилось."
    ),
    "words_invalid": (
        "Это не может быть словом (нужна буква или цифра, не больше 64 символов): {words}. "
        "Ничего не изменилось."
    ),
    "words_both": "{words}: слово не может стоять и после «только», и после «кроме». "
    "Ничего не изменилось.",
    "words_too_many": (
        "В подписке не больше {limit} слов, а указано {count}. Ничего не изменилось."
    ),
    "words_no_tag": (
        "Сначала назовите тег, потом слова, например "
        "<code>/follow Япония только землетрясение</code>. Ничего не изменилось."
    ),
    "words_change": (
        "Чтобы изменить слова тега {tag}, отправьте тег снова с новыми словами, например\n"
        "<code>{command} только землетрясение, цунами кроме учения</code>\n"
        "(«только», «кроме» или оба; не больше {limit} слов, целые слова, регистр не важен)."
    ),
    "button_words_cleared": "{tag}: слова убраны, приходят все новости тега",
    "button_words_none": "У тега {tag} нет слов",
    "taste": "<b>Свежее в {tag}:</b>\n{stories}",
    "latest_heading": "Последнее по тегу {tag}",
    "latest_heading_chat": "Последнее по вашим тегам",
    "latest_none_tag": (
        "Новостей с тегом {tag} пока нет. Подпишитесь (/follow), чтобы получить первую."
    ),
    "latest_none_chat": (
        "По вашим тегам пока нет новостей. Попробуйте <code>/latest Japan</code> или /tags."
    ),
    "latest_no_tags": (
        "У вас пока нет подписок, показывать нечего. "
        "Попробуйте <code>/latest Japan</code> или <code>/follow Japan</code>."
    ),
    "latest_bad_count": (
        "⚠️ «{raw}» — не число новостей, которое я могу показать: укажите от 1 до {max}, "
        "например <code>/latest Japan 10</code>."
    ),
    "latest_more": "…и ещё {n}, не поместившихся в одно сообщение.",
    "unknown_tag": "Тег «{raw}» мне неизвестен.",
    "unknown_tag_no_suggestions": (
        "Тег «{raw}» мне неизвестен. Активные теги — в /tags; на него можно и подписаться "
        "(/follow), чтобы получить первую новость."
    ),
    "tags_heading": "<b>Самые активные теги</b>",
    "tags_line": (
        "{number}. {tag} — новостей: {total} (за 30 дней: {recent}) · подписчиков: {followers}"
    ),
    "tags_none": (
        "Новостей пока нет. Оператор может добавить их командой <code>tagwire push</code>."
    ),
    "tags_footer": "Нажмите на тег, чтобы подписаться; ✓ — ваши подписки.",
    "group_admins_only": "Подписки этой группы могут менять только её администраторы.",
    "unknown_command": "Я не знаю команды {command}. Все команды — в /help.",
    "plain_text": "Я понимаю команды. Попробуйте <code>/follow Japan</code> или /help.",
    "button_expired": "Эта кнопка больше не работает. Отправьте /following или /tags заново.",
    "button_followed": "Подписка на {tag} оформлена",
    "button_unfollowed": "Подписка на {tag} отменена",
    "button_already": "Вы уже подписаны на {tag}",
    "button_not_following": "Вы не подписаны на {tag}",
    "button_limit": "Чат может подписаться не более чем на {limit} тегов",
    "button_admins_only": "Подписки этой группы могут менять только её администраторы",
    "button_channel_admins_only": "Подписки этого канала могут менять только его администраторы",
    "internal_error": ("Простите, у меня что-то сломалось. Ошибка записана; попробуйте ещё раз."),
    "storage_unavailable": (
        "Простите, сейчас я не могу ничего сохранить: хранилище переполнено или занято. "
        "Ничего не изменилось; попробуйте ещё раз через несколько минут."
    ),
    "read_more": "Читать дальше",
    "burst_heading": "Новых историй: {count}",
    "digest_heading_hourly": "Ваш дайджест за час: {count}",
    "digest_heading_daily": "Ваш дайджест за день: {count}",
    "digest_heading_quiet": "Пока было тихо: {count}",
    "command_start": "Приветствие и как пользоваться",
    "command_help": "Все команды с примерами",
    "command_follow": "Подписаться: /follow Japan, Russia",
    "command_unfollow": "Отписаться: /unfollow Japan",
    "command_following": "Ваши подписки",
    "command_latest": "Последние новости: /latest Japan 10",
    "command_tags": "Самые активные теги",
    "command_search": "Поиск: /search Kuril",
    "command_settings": "Доставка, тихие часы, превью, язык",
    "command_mute": "Пропускать новости со словом: /mute Trump",
    "command_unmute": "Перестать пропускать слово",
    "command_muted": "Пропускаемые слова",
    "command_timezone": "Часовой пояс: /timezone Europe/Moscow",
    "command_quiet": "Тихие часы: /quiet 23:00-07:00",
    "command_channels": "Каналы, которыми вы управляете со мной",
    "command_export": "Подписки, пропускаемые слова и настройки файлом",
    "command_import": "Восстановить их из этого файла",
    "export_caption": (
        "📦 Подписок: {follows}, пропускаемых слов: {muted}, и настройки. Отправьте этот файл "
        "обратно с подписью <code>/import</code> (или ответьте на него <code>/import</code>), "
        "чтобы восстановить их здесь или в другом чате."
    ),
    "import_usage": (
        "Отправьте файл, сделанный /export, с подписью <code>/import</code> или ответьте на "
        "него <code>/import</code>."
    ),
    "import_download_failed": "⚠️ Не удалось скачать файл. Попробуйте чуть позже.",
    "import_problem": "⚠️ Не могу импортировать этот файл: {reason}. Ничего не изменено.",
    "import_too_big": "он больше {limit} КБ",
    "import_not_json": "это не JSON-файл (его делает /export)",
    "import_not_tagwire": "это не выгрузка tagwire",
    "import_version": "у него версия {value}, а я читаю версию {version}",
    "import_bad_value": "в {where} недопустимое значение: «{value}»",
    "import_unknown_field": "поле {where} мне незнакомо",
    "import_too_many_words": (
        "в {where} ({value}) слов: {count}, а в подписке их не больше {limit}"
    ),
    "import_too_many_tags": "в нём больше {limit} подписок в одном месте",
    "import_too_many_muted": "в нём {count} пропускаемых слов, а в чате их не больше {limit}",
    "import_topics": "{where} ({value}) указывает тему форума, а в этом чате тем нет",
    "import_preview": (
        "<b>Импорт этого файла:</b>\n{changes}\n\nПодтвердите, чтобы применить всё сразу."
    ),
    "import_follow_added": "➕ подписаться: {tags}",
    "import_follow_removed": "➖ отписаться: {tags}",
    "import_follow_words": "✎ {tag}: {words}",
    "import_words_none": "все новости тега",
    "import_in_topic": "{tag} (тема {topic})",
    "import_mute_added": "🔇 пропускать: {words}",
    "import_mute_removed": "🔈 не пропускать: {words}",
    "import_setting": "⚙️ {name}: {old} → {new}",
    "import_name_language": "язык",
    "import_name_delivery": "доставка",
    "import_name_hour": "час дайджеста",
    "import_name_timezone": "часовой пояс",
    "import_name_quiet": "тихие часы",
    "import_name_previews": "превью ссылок",
    "import_name_bursts": "пачки одним сообщением",
    "import_name_pictures": "картинки",
    "import_language_auto": "язык каждого читателя",
    "import_nothing": "Этот файл совпадает с тем, что уже настроено здесь: менять нечего.",
    "import_confirm": "✅ Импортировать",
    "import_cancel": "✖ Отмена",
    "import_done": (
        "✅ Импортировано: подписок — {follows}, пропускаемых слов — {muted}, и настройки."
    ),
    "import_cancelled": "Импорт отменён: ничего не изменено.",
    "import_expired": "Этот импорт больше недоступен: отправьте файл снова с /import.",
    "more_count": "и ещё {count}",
    "tag_reason_empty": "в теге нужна хотя бы одна буква, цифра или эмодзи",
    "tag_reason_too_long": "тег — не длиннее 64 символов",
    "channel_scope": "Канал {channel}:",
    "channel_not_found": "Не могу найти канал {channel}. Проверьте его @имя.",
    "channel_not_channel": "{channel} — не канал.",
    "channel_not_admin": "Подписки канала {channel} могут менять только его администраторы.",
    "channel_bot_not_admin": (
        "Добавьте меня в {channel} администратором с правом публикации и попробуйте снова."
    ),
    "channels_none": (
        "Я не знаю каналов, где мы оба администраторы. Добавьте меня в свой канал "
        "администратором, затем отправьте <code>/follow @вашканал Japan</code>."
    ),
    "channels_pick": "Каналы, где мы оба администраторы — выберите канал, чтобы настроить теги:",
    "channel_manage": (
        "Нажмите на тег, чтобы подписать {channel}; ✓ — его подписки. "
        "Любой другой тег: <code>/follow {channel} Japan</code>."
    ),
    "search_usage": (
        "Отправьте слова для поиска, например <code>/search Kuril Islands</code> или "
        '<code>/search "peace treaty"</code>.'
    ),
    "search_heading": "Поиск: {query}",
    "search_page": "(с {first}-го)",
    "search_none": "Ничего не найдено по запросу «{query}».",
    "search_invalid": (
        '⚠️ Не удалось разобрать запрос ({reason}). Используйте слова, "фразу в кавычках", OR и NOT.'
    ),
    "search_more": "Дальше ▶",
    "search_back": "◀ Назад",
    "search_no_more": "Больше результатов нет",
    "search_prefix_short": (
        "⚠️ Перед * нужно не меньше {min} букв (в «{word}» меньше). Добавьте буквы или уберите *."
    ),
    "search_too_many_prefixes": (
        "⚠️ В одном запросе можно не больше {max} слов со *. Уберите лишние или напишите их целиком."
    ),
    "search_too_many_terms": "⚠️ В одном запросе можно не больше {max} слов и фраз. Уберите лишние.",
    "search_too_slow": (
        "⚠️ Этот поиск идёт слишком долго. Уберите слова со * или добавьте слова, которые "
        "его сужают, и попробуйте ещё раз."
    ),
    "search_results_cap": (
        "Я показываю только первые {max} результатов поиска: добавьте слова, чтобы сузить его."
    ),
    "settings_heading": "<b>Настройки этого чата</b>",
    "settings_heading_channel": "<b>Настройки канала {channel}</b>",
    "settings_text": (
        "{heading}\n\n"
        "Доставка: {mode}\n"
        "Тихие часы: {quiet}\n"
        "Часовой пояс: {timezone}\n"
        "Превью ссылок: {previews}\n"
        "Несколько новостей сразу — одним сообщением: {bursts}\n"
        "Картинки: {pictures}\n"
        "Язык: {language_name}\n\n"
        "Часовой пояс: <code>/timezone Europe/Moscow</code>; другие тихие часы: "
        "<code>/quiet 22:30-06:30</code>."
    ),
    "settings_mode_instant": "Сразу",
    "settings_mode_hourly": "Каждый час",
    "settings_mode_daily": "Раз в день",
    "settings_mode_daily_at": "Раз в день в {hour}",
    "settings_quiet_off": "Без тихих часов",
    "settings_on": "вкл.",
    "settings_off": "выкл.",
    "settings_previews_on": "Превью ссылок: вкл.",
    "settings_previews_off": "Превью ссылок: выкл.",
    "settings_bursts_on": "Пачкой: вкл.",
    "settings_bursts_off": "Пачкой: выкл.",
    "settings_pictures_photo": "Фото",
    "settings_pictures_preview": "Над текстом",
    "settings_pictures_off": "Без картинок",
    "settings_saved": "Сохранено",
    "language_name": "Русский",
    "timezone_usage": (
        "Часовой пояс этого чата: {timezone}. Изменить: "
        "<code>/timezone Europe/Moscow</code> или смещение, например <code>/timezone +3</code>."
    ),
    "timezone_invalid": "⚠️ «{raw}» — неизвестный мне часовой пояс: {reason}.",
    "timezone_set": "Часовой пояс: {timezone} (там сейчас {time}).",
    "quiet_usage": (
        "Тихие часы: {quiet}. Новости, вышедшие в это время, ждут и приходят одним сообщением, "
        "когда тихие часы заканчиваются. Задать: <code>/quiet 23:00-07:00</code>, "
        "или <code>/quiet off</code>."
    ),
    "quiet_invalid": "⚠️ «{raw}» — непонятные мне тихие часы: {reason}.",
    "quiet_set": (
        "Тихие часы: {quiet} ({timezone}). Новости, вышедшие в это время, придут одним "
        "сообщением, когда тихие часы закончатся."
    ),
    "quiet_off": "Тихие часы выключены: новости приходят сразу после выхода.",
    "reason_timezone_empty": "он пустой",
    "reason_offset_range": "смещение — от -14:00 до +14:00",
    "reason_timezone_unknown": (
        "укажите название, например Europe/Moscow, или смещение, например +3"
    ),
    "reason_quiet_format": "запишите их как 23:00-07:00 или off",
    "reason_quiet_same": "начало и конец совпадают",
    "reason_clock_range": "время — от 00:00 до 24:00",
    "mute_usage": (
        "Отправьте слово, например <code>/mute Trump</code> (несколько: "
        "<code>/mute Trump, Brexit</code>). Новости, в заголовке или анонсе которых оно есть, "
        "сюда не придут. Не более {limit} слов."
    ),
    "muted_added": "🔇 Пропускаю новости со словами: {words}.",
    "muted_already": "Уже пропускаются: {words}.",
    "muted_limit": "⚠️ Чат может пропускать не более {limit} слов; не добавлены: {words}.",
    "mute_invalid": "⚠️ «{raw}» нельзя добавить: нужно слово не длиннее {limit} символов.",
    "unmute_usage": (
        "Отправьте пропускаемое слово, например <code>/unmute Trump</code>; список — /muted."
    ),
    "unmuted": "🔈 Больше не пропускаю: {words}.",
    "not_muted": "Не пропускались: {words}.",
    "muted_none": (
        "Пропускаемых слов нет. <code>/mute Trump</code> скрывает новости с этим словом."
    ),
    "muted_list": "<b>Пропускаемые слова ({count} из {limit}):</b> {words}",
    "too_many_commands": "⏳ Слишком много команд сразу. Я снова отвечу через {seconds} с.",
    "command_post": "Опубликовать новость: /post URL Заголовок #Тег",
    "command_stats": "Чаты, новости и доставки в цифрах",
    "command_feeds": "Ленты и как прошёл их последний опрос",
    "admin_post_usage": (
        "Опубликуйте новость одной строкой:\n"
        "<code>/post https://example.com/story Заголовок новости #Japan #Kuril_Islands</code>\n"
        "или несколькими: URL, заголовок, анонс (необязательно), теги последней строкой:\n"
        "<code>/post https://example.com/story\nЗаголовок новости\nКороткий анонс.\n"
        "Japan, Kuril Islands</code>\n"
        "Картинка: отправьте команду подписью к фото или укажите URL картинки сразу после URL "
        "новости."
    ),
    "admin_post_published": "✅ Опубликовано. Чатов к оповещению: {count}.",
    "admin_post_duplicate": (
        "ℹ️ Уже опубликовано как новость {id}: этот URL известен, повторно никто не оповещается."
    ),
    "admin_post_rejected": "⚠️ Не опубликовано: {field}: {reason}.",
    "admin_stats": (
        "<b>tagwire в цифрах</b>\n"
        "Чаты: активных {active}, неактивных {inactive}\n"
        "Подписки: {subscriptions}\n"
        "Новости: {stories}\n"
        "Доставки: в очереди {pending}, с ошибкой {failed}, отправлено {sent}\n"
        "Последняя доставка заняла: {delay}\n"
        "Экземпляры (за минуту): {instances}"
    ),
    "role_leader": "ведущий",
    "role_follower": "ведомый",
    "command_story": "Что стало с новостью: /story URL",
    "command_retract": "Отозвать новость: /retract URL",
    "admin_story_usage": (
        "Пришлите URL новости: <code>/story https://example.com/story</code>. В ответе — "
        "для скольких чатов она была, что стало с каждой доставкой и как быстро она разошлась."
    ),
    "admin_story_unknown": "⚠️ Новости с таким URL нет: {url}",
    "admin_post_scheduled": (
        "⏰ Запланировано на {when}: до тех пор новость ждёт, её нет ни в одном списке, "
        "и никто её не получил. <code>/story URL</code> расскажет, как она разошлась."
    ),
    "report_heading": "Новость {id}: {title}",
    "report_url": "{url}",
    "report_held": (
        "Запланирована на {due}: до тех пор ждёт, её нет ни в одном списке, и никто её не получил."
    ),
    "report_released": "Запланирована на {due}; вышла в {released}.",
    "report_cancelled": "Отменена в {when}; была запланирована на {due} и так и не вышла.",
    "report_no_chats": (
        "Не поставлена ни в один чат: когда она вышла, на её теги никто не был подписан, "
        "или она сохранена без оповещения."
    ),
    "report_counts": (
        "Чатов: {chats}. Отправлено {sent}, в очереди {pending}, пропущено {skipped}, "
        "с ошибкой {failed}."
    ),
    "report_held_pending": "Ждут конца тихих часов или дайджеста: {count}.",
    "report_skipped": (
        "Пропущено: {muted} из-за скрытого слова, {inactive} — чат ушёл (бот заблокирован, "
        "удалён из чата, чат удалён)."
    ),
    "report_failure": "✗ Ошибка ({count}): {reason}",
    "report_no_reason": "причина не указана",
    "report_sends": "Первая отправка {first}, последняя {last}.",
    "report_half": "Половина чатов получила её через {after}.",
    "report_half_not_yet": "Половина чатов: ещё нет.",
    "report_all": "Все чаты получили её через {after}.",
    "report_all_not_yet": "Все чаты: ещё нет, в очереди {pending}.",
    "report_all_never": "Все чаты: нет, {missed} не получили её (пропущены или ошибка).",
    "report_duration_seconds": "{value} с",
    "report_duration_minutes": "{minutes} мин {seconds} с",
    "report_duration_hours": "{hours} ч {minutes} мин",
    "withdrawn_note": "<i>Эта новость отозвана издателем.</i>",
    "report_corrections": (
        "Исправлена {corrections} раз(а): изменено {edited}, уже актуальны {unchanged}, "
        "ждут правки {pending}."
    ),
    "report_retracted": (
        "Отозвана {when}: не отправлено {cancelled}, удалено {deleted}, заменено пометкой об "
        "отзыве {noted} (старше 48 ч), ждут {pending}."
    ),
    "report_edits_skipped": "Не изменено {count}: не было отправлено или входит в дайджест.",
    "report_edit_failure": "✗ Правка не удалась {count}: {reason}",
    "admin_retract_usage": (
        "Использование: <code>/retract URL</code> (или номер новости): отзывает новость и "
        "удаляет её анонсы, пока Telegram это позволяет."
    ),
    "admin_retract_confirm": (
        "Отозвать <b>{title}</b>?\n{url}\n\nОна исчезнет из /latest и /search, неотправленные "
        "доставки отменятся, анонсы будут удалены (старше 48 ч — заменены пометкой). Это "
        "нельзя отменить."
    ),
    "admin_retract_button": "Отозвать",
    "admin_retract_cancel_button": "Отмена",
    "admin_retract_cancelled": "Не отозвана: {url}",
    "admin_retract_done": (
        "Отозвана: {url}\nОтменено доставок: {cancelled}, удаляется анонсов: {deletes}."
    ),
    "admin_retract_already": "Уже отозвана: {url}",
    "admin_retract_gone": "Этой новости больше нет.",
    "admin_retract_forged": "Эта кнопка недействительна: ничего не отозвано.",
    "admin_retract_not_admin": "Отзывать новости могут только администраторы бота.",
    "admin_stats_no_delay": "доставок ещё не было",
    "admin_feeds_none": (
        "Лент пока нет. На сервере: "
        "<code>tagwire feeds add https://example.com/feed.xml --tag Japan</code>"
    ),
    "admin_feeds_heading": "<b>Ленты ({count})</b>",
    "admin_feeds_item": "{number}. {url}\nТеги: {tags} · последний успех: {success}",
    "admin_feeds_error": "⚠️ Последняя ошибка ({when}, подряд: {failures}): {error}",
    "admin_feeds_never": "никогда",
    "admin_feeds_no_tags": "только собственные теги записей",
    "admin_feeds_more": "…и ещё {count}: полный список — <code>tagwire feeds list</code>.",
    "command_resume": "Снова опрашивать приостановленную ленту: /resume URL",
    "admin_feeds_paused": "⏸ Приостановлена с {when}, не опрашивается: <code>/resume {url}</code>",
    "admin_resume_usage": (
        "Пришлите URL приостановленной ленты, например "
        "<code>/resume https://example.com/feed.xml</code>; список лент — /feeds."
    ),
    "admin_resume_unknown": "⚠️ Ленты {url} нет; список лент — /feeds.",
    "admin_resume_not_paused": "{url} не приостановлена: её опрашивают каждые {interval} с.",
    "admin_resume_done": (
        "▶️ Лента {url} снова в работе: её опросят в течение {interval} с. Я сообщу, когда "
        "она заработает."
    ),
    "alert_feed_failing": (
        "⚠️ <b>Лента не читается</b>\n{url}\nНеудачных опросов подряд: {count}. "
        "Последняя ошибка: {error}"
    ),
    "alert_feed_pause_note": "После {count} неудач подряд она будет приостановлена.",
    "alert_feed_paused": (
        "⏸ <b>Лента приостановлена</b>\n{url}\nНеудачных опросов подряд: {count}; больше её "
        "не опрашивают. Возобновить: <code>/resume {url}</code> или "
        "<code>tagwire feeds resume {url}</code>."
    ),
    "alert_feed_over": (
        "✅ <b>Лента снова читается</b>\n{url}\nНе читалась с {since} ({duration})."
    ),
    "alert_outbox": (
        "⚠️ <b>Доставки опаздывают</b>\nСамая давняя доставка ждёт уже {age}; в очереди: "
        "{pending}. Очередь застряла или идёт слишком медленно: подробности в /stats и в "
        "журнале бота."
    ),
    "alert_outbox_over": "✅ <b>Доставки снова вовремя</b> (опаздывали с {since}, {duration}).",
    "alert_telegram": (
        "⚠️ <b>Telegram недоступен</b> с {since}, дольше {threshold}: доставки и ответы ждут."
    ),
    "alert_telegram_over": (
        "✅ <b>Telegram снова доступен</b> спустя {duration} (недоступен с {since}); всё, что "
        "ждало, уходит."
    ),
    "alert_database": (
        "🛑 <b>База данных не принимает записи</b>\n{reason}\nНовые истории и команды, которые "
        "пишут в базу, отклоняются (повторить позже безопасно); доставки продолжаются из того, "
        "что бот уже держит."
    ),
    "alert_database_over": (
        "✅ <b>База данных снова принимает записи</b> (не принимала с {since}, {duration})."
    ),
    "alert_more": "…и ещё {count}: подробности в /feeds, /stats и в журнале бота.",
    "duration_seconds": "{count} с",
    "duration_minutes": "{count} мин",
    "duration_hours": "{hours} ч {minutes} мин",
    "duration_days": "{days} д {hours} ч",
}
