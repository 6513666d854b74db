"""The default rules read real customer messages in English, Greek, Chinese, Russian, Finnish.

Each table row is a message as a customer would write it (inflected forms, no accents
stripped by hand, real punctuation), the context it came with (NPS, stars, channel, tier,
lifecycle stage) and what the default rule set must make of it: the priority and a rule
that must fire with evidence. Some rows are false-positive guards: a harmless message
that contains a word a lexicon could trip over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from service.rules import RuleEngine, load_default_rules
from tests.unit.rules_helpers import detect_language

ENGINE = RuleEngine(load_default_rules())


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    priority: Priority
    rule: str
    nps: int | None = None
    rating: int | None = None
    channel: str = "email"
    tier: str | None = None
    stage: str | None = None
    manager: bool | None = None
    action: str | None = None
    category: str | None = None
    not_fired: tuple[str, ...] = field(default_factory=tuple)


P1, P2, P3, P4 = Priority.P1, Priority.P2, Priority.P3, Priority.P4


def event(case: Case) -> FeedbackEvent:
    customer: dict[str, Any] = {"id": "cust-1"}
    if case.tier:
        customer["tier"] = case.tier
    if case.stage:
        customer["lifecycle_stage"] = case.stage
    data: dict[str, Any] = {
        "event_id": f"evt-{case.id}",
        "occurred_at": "2026-03-02T09:15:00+02:00",
        "channel": case.channel,
        "customer": customer,
        "text": case.text,
    }
    if case.nps is not None:
        data["nps_score"] = case.nps
    if case.rating is not None:
        data["rating"] = case.rating
    return FeedbackEvent.model_validate(data)


def check(case: Case) -> None:
    a = ENGINE.assess(event(case))
    fired = {r.rule_id: r for r in a.reasons}
    explain = f"{case.text!r} → {a.priority} sev={a.severity} fired={list(fired)}"
    assert case.rule in fired, explain
    assert fired[case.rule].evidence, explain
    assert all(e for e in fired[case.rule].evidence), explain
    assert a.priority == case.priority, explain
    if case.manager is not None:
        assert a.management_attention is case.manager, explain
    if case.action is not None:
        assert case.action in a.actions, f"{explain} actions={a.actions}"
    if case.category is not None:
        assert a.category == case.category, explain
    for rule in case.not_fired:
        assert rule not in fired, explain


def params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases]


# --- English ---------------------------------------------------------------------------

EN = [
    Case(
        "churn",
        "I'm cancelling my subscription at the end of the month, we've already "
        "switched to a competitor.",
        P1,
        "text.churn_intent",
        category="churn_threat",
        action="retention_offer",
    ),
    Case(
        "churn-decided-detractor",
        "Please close my account. I'm switching to another provider.",
        P1,
        "churn.decided_detractor",
        nps=1,
        manager=True,
        action="manager_callback",
    ),
    Case(
        "refund",
        "I was charged twice for my March invoice. Please refund the duplicate "
        "payment or I will file a chargeback with my bank.",
        P2,
        "text.refund",
        category="refund_request",
        action="offer_refund",
    ),
    Case(
        "legal",
        "If this isn't fixed by Friday I'll be contacting my lawyer.",
        P1,
        "text.legal_threat",
        manager=True,
        category="legal_threat",
    ),
    Case(
        "data-loss",
        "After your update yesterday we lost all our customer data. Years of records are gone.",
        P1,
        "text.safety",
        category="safety_incident",
        action="escalate_engineering",
    ),
    Case("safety", "The charger started smoking and burned my hand.", P1, "text.safety"),
    Case(
        "outage",
        "Your app has been down since this morning and none of my team can log in.",
        P2,
        "text.outage",
        category="service_incident",
    ),
    Case(
        "anger",
        "Honestly the worst support I have ever dealt with. Useless.",
        P2,
        "text.anger",
        category="frustrated",
    ),
    Case(
        "anger-waiting",
        "This is absolutely unacceptable!!! Three weeks and still no answer from your support.",
        P1,
        "tone.punctuation",
    ),
    Case(
        "praise-promoter",
        "Absolutely love the new dashboard, it saves me hours every week. Great job!",
        P4,
        "nps.promoter",
        nps=10,
        channel="nps_survey",
        action="ask_for_review",
        category="praise",
    ),
    Case(
        "praise-five-stars",
        "Fantastic app, thank you!",
        P4,
        "rating.high",
        rating=5,
        channel="app_store",
        action="ask_for_review",
    ),
    Case(
        "question",
        "How do I add a second user to our account?",
        P3,
        "text.question",
        category="question",
    ),
    Case(
        "question-with-thanks",
        "Could you tell me how to export my data? Thanks!",
        P3,
        "text.question",
        not_fired=("text.praise",),
    ),
    Case(
        "question-switch-plan",
        "How do I switch to the annual plan?",
        P3,
        "text.question",
        not_fired=("text.churn_intent",),
    ),
    Case(
        "mild-disappointment",
        "The delivery was a bit slow this time, a little disappointed.",
        P3,
        "text.disappointed.mild",
        category="disappointed",
    ),
    Case(
        "bare-detractor",
        "",
        P2,
        "bare_low_score",
        nps=2,
        channel="nps_survey",
        action="ask_what_went_wrong",
        category="detractor",
    ),
    Case(
        "passive", "It's fine, does what it says.", P3, "nps.passive", nps=7, channel="nps_survey"
    ),
    Case(
        "public-angry",
        "@acme worst customer service ever. Two hours on hold and then they hung up on me!!",
        P1,
        "channel.public.angry_detractor",
        channel="social_media",
        action="public_reply",
    ),
    Case(
        "enterprise-churn",
        "We will not renew our contract next quarter, we're moving to another vendor.",
        P1,
        "key_account.at_risk",
        tier="enterprise",
        manager=True,
        action="manager_callback",
    ),
    Case(
        "onboarding-stuck",
        "I'm stuck on the setup step, the import keeps failing and I can't figure out why.",
        P2,
        "lifecycle.onboarding_trouble",
        stage="onboarding",
        category="onboarding_blocker",
        action="onboarding_call",
    ),
    Case(
        "not-a-fire",
        "Whoever designed this checkout should be fired, it is so slow.",
        P2,
        "text.disappointed",
        not_fired=("text.safety",),
    ),
    Case(
        "shouting", "WHY IS NOBODY ANSWERING MY EMAILS", P3, "tone.shouting", category="frustrated"
    ),
    Case("charged-three-times", "Been charged three times this month?!", P2, "text.refund"),
    Case("checkout-timeout", "Site keeps timing out and I can't check out.", P2, "text.outage"),
    Case(
        "court-booking",
        "Can I still change the court booking to Friday?",
        P3,
        "text.question",
        not_fired=("text.legal_threat",),
    ),
    Case(
        "moving-office",
        "Please update our billing address, we are moving to Berlin next month. Can you do that?",
        P3,
        "text.question",
        not_fired=("text.churn_intent",),
    ),
]


# --- Greek -------------------------------------------------------------------------------

EL = [
    Case(
        "churn",
        "Θέλω να ακυρώσω τη συνδρομή μου αμέσως. Πάω σε άλλη εταιρεία.",
        P1,
        "text.churn_intent",
        category="churn_threat",
    ),
    Case(
        "churn-inflected",
        "Θα διακόψω τη συνδρομή μου αν δεν λυθεί το πρόβλημα.",
        P1,
        "text.churn_intent",
    ),
    Case(
        "churn-provider",
        "Σκέφτομαι σοβαρά να αλλάξω πάροχο, η εξυπηρέτηση είναι απαράδεκτη.",
        P1,
        "churn.hedged_angry",
    ),
    Case(
        "refund",
        "Με χρεώσατε δύο φορές για την ίδια παραγγελία. Θέλω επιστροφή των χρημάτων μου.",
        P2,
        "text.refund",
        category="refund_request",
    ),
    Case(
        "legal",
        "Αν δεν λυθεί το θέμα μέχρι την Παρασκευή, θα απευθυνθώ στον δικηγόρο μου "
        "και στον Συνήγορο του Καταναλωτή.",
        P1,
        "text.legal_threat",
        manager=True,
    ),
    Case(
        "data-loss",
        "Μετά την ενημέρωση χάθηκαν όλα τα δεδομένα της εταιρείας μας!",
        P1,
        "text.safety",
        category="safety_incident",
    ),
    Case(
        "outage",
        "Η εφαρμογή δεν λειτουργεί από το πρωί και δεν μπορώ να συνδεθώ.",
        P2,
        "text.outage",
        category="service_incident",
    ),
    Case(
        "anger",
        "Η υπηρεσία σας είναι άχρηστη, μας κοροϊδεύετε.",
        P2,
        "text.anger",
        category="frustrated",
    ),
    Case("anger-shouting", "ΕΙΜΑΙ ΠΟΛΥ ΘΥΜΩΜΕΝΟΣ ΜΕ ΤΗΝ ΕΞΥΠΗΡΕΤΗΣΗ ΣΑΣ", P2, "text.anger"),
    Case(
        "praise-promoter",
        "Εξαιρετική εξυπηρέτηση, πολύ γρήγορη απάντηση. Ευχαριστώ πολύ!",
        P4,
        "text.praise",
        nps=10,
        channel="nps_survey",
        action="ask_for_review",
        category="praise",
    ),
    Case(
        "question",
        "Πώς μπορώ να αλλάξω τη διεύθυνση χρέωσης στον λογαριασμό μου;",
        P3,
        "text.question",
        category="question",
    ),
    Case(
        "mild-disappointment",
        "Είμαι λίγο απογοητευμένος, περίμενα καλύτερη ποιότητα για αυτή την τιμή.",
        P3,
        "text.disappointed.mild",
        category="disappointed",
    ),
    Case(
        "not-slow-not-perfect",
        "Θα σας καλέσω αργότερα, η συνδρομή μου τελειώνει σε μια εβδομάδα.",
        P4,
        "nps.promoter",
        nps=9,
        not_fired=("text.disappointed", "text.praise"),
    ),
    Case(
        "public-angry",
        "Ντροπή σας! Η χειρότερη εταιρεία που έχω συναντήσει. Μην αγοράσετε ποτέ από αυτούς!!!",
        P1,
        "channel.public.angry_detractor",
        channel="social_media",
    ),
    Case(
        "enterprise-churn",
        "Δεν θα ανανεώσουμε το συμβόλαιο. Μεταφερόμαστε σε ανταγωνιστή.",
        P1,
        "key_account.at_risk",
        tier="enterprise",
        manager=True,
    ),
    Case(
        "bare-detractor",
        "",
        P2,
        "nps.detractor",
        nps=3,
        channel="nps_survey",
        action="ask_what_went_wrong",
    ),
    Case("never-again", "Δεν θα ξαναψωνίσω ποτέ από εσάς.", P1, "text.churn_intent"),
    Case("cheated", "Με εξαπατήσατε.", P2, "text.anger"),
    Case("app-freezes", "Η εφαρμογή κολλάει συνεχώς.", P2, "text.outage"),
    Case("dissatisfied", "Είμαι πολύ δυσαρεστημένος.", P2, "text.disappointed"),
    Case(
        "not-pleased",
        "Δεν είμαι ευχαριστημένη από την εξυπηρέτηση.",
        P2,
        "text.disappointed",
        not_fired=("text.praise",),
    ),
    Case("pleased", "Πολύ ευχαριστημένη από την εξυπηρέτηση, μπράβο σας!", P4, "text.praise"),
    Case(
        "when-renewal",
        "Πότε θα ανανεωθεί η συνδρομή μου;",
        P3,
        "text.question",
        not_fired=("text.churn_intent",),
    ),
]


# --- Chinese -----------------------------------------------------------------------------

ZH = [
    Case(
        "churn",
        "我要取消订阅，已经决定换别家了。",
        P1,
        "text.churn_intent",
        category="churn_threat",
    ),
    Case(
        "refund",
        "同一笔订单被重复扣款了，请尽快给我退款。",
        P2,
        "text.refund",
        category="refund_request",
    ),
    Case(
        "legal",
        "再不解决我就去消协投诉，必要时找律师起诉你们。",
        P1,
        "text.legal_threat",
        manager=True,
    ),
    Case("data-loss", "系统升级以后我们所有的数据丢失了，客户资料全没了！", P1, "text.safety"),
    Case("outage", "APP一直闪退，从早上到现在完全打不开。", P2, "text.outage"),
    Case("anger", "客服态度太差了，气死我了。", P2, "text.anger", category="frustrated"),
    Case(
        "praise-promoter",
        "非常好用，客服回复很快，谢谢你们！",
        P4,
        "text.praise",
        nps=10,
        channel="nps_survey",
        action="ask_for_review",
    ),
    Case("question", "请问怎么修改发票抬头？", P3, "text.question", category="question"),
    Case(
        "question-plan",
        "请问怎么换成年付套餐？",
        P3,
        "text.question",
        not_fired=("text.churn_intent",),
    ),
    Case(
        "mild-disappointment",
        "这次的包装有点让人失望，希望下次能改进。",
        P3,
        "text.disappointed.mild",
    ),
    Case(
        "negated-praise",
        "我对这次服务不满意，不推荐。",
        P2,
        "text.disappointed",
        not_fired=("text.praise",),
        category="disappointed",
    ),
    Case(
        "public-angry",
        "这家公司就是骗子！！大家千万别买！",
        P1,
        "channel.public.angry_detractor",
        channel="social_media",
        action="public_reply",
    ),
    Case(
        "one-star-review",
        "质量很差，用了两天就坏了。",
        P1,
        "channel.public.angry_detractor",
        rating=1,
        channel="review",
    ),
    Case(
        "enterprise-churn",
        "合同到期后我们不续约了，已经在和竞争对手谈。",
        P1,
        "key_account.at_risk",
        tier="enterprise",
        manager=True,
    ),
    Case(
        "onboarding",
        "刚开始用，完全不会用，卡住了。",
        P2,
        "lifecycle.onboarding_trouble",
        stage="trial",
        action="onboarding_call",
    ),
    Case("ignored", "你们的客服根本不理人。", P2, "text.disappointed"),
    Case("complaint", "我要投诉你们！", P2, "text.anger"),
    Case("broken-product", "产品有质量问题，用了一周就坏了。", P2, "text.outage"),
    Case("never-again", "太失望了，再也不会买了。", P1, "text.churn_intent"),
    Case("yes-no-question", "请问你们周末上班吗？", P3, "text.question"),
]


# --- Russian -----------------------------------------------------------------------------

RU = [
    Case(
        "churn",
        "Отменяю подписку и ухожу к конкурентам. Больше не хочу иметь с вами дело.",
        P1,
        "text.churn_intent",
        category="churn_threat",
    ),
    Case(
        "churn-other-service", "Всё, хватит. Переходим на другой сервис.", P1, "text.churn_intent"
    ),
    Case(
        "refund",
        "С карты дважды списали деньги за один заказ. Верните мне деньги!",
        P2,
        "text.refund",
        category="refund_request",
    ),
    Case(
        "legal",
        "Если вопрос не решится, я обращусь в суд и напишу жалобу в Роспотребнадзор.",
        P1,
        "text.legal_threat",
        manager=True,
    ),
    Case("data-loss", "После обновления у нас пропали все данные клиентов!", P1, "text.safety"),
    Case("data-loss-inflected", "Вы потеряли все наши данные за год.", P1, "text.safety"),
    Case(
        "outage",
        "Приложение не работает со вчерашнего дня, не могу войти в личный кабинет.",
        P2,
        "text.outage",
    ),
    Case(
        "anger",
        "Ваш сервис ужасен, мне нахамили в чате поддержки.",
        P2,
        "text.anger",
        category="frustrated",
    ),
    Case(
        "praise-promoter",
        "Отличный сервис, всё работает быстро. Спасибо вашей команде!",
        P4,
        "text.praise",
        nps=10,
        channel="nps_survey",
        action="ask_for_review",
    ),
    Case("question", "Подскажите, пожалуйста, как поменять тариф?", P3, "text.question"),
    Case(
        "mild-disappointment",
        "Немного разочарован качеством, ожидал большего за такие деньги.",
        P3,
        "text.disappointed.mild",
    ),
    Case(
        "no-complaints-goodbye",
        "Претензий нет, всё отлично. Спасибо, до свидания!",
        P4,
        "text.praise",
        not_fired=("text.churn_intent", "text.legal_threat"),
    ),
    Case(
        "public-angry",
        "Худший магазин, в котором я покупал. Обманули с доставкой!!!",
        P1,
        "channel.public.angry_detractor",
        channel="review",
        rating=1,
    ),
    Case(
        "enterprise-churn",
        "Мы не будем продлевать договор и переходим к другому поставщику.",
        P1,
        "key_account.at_risk",
        tier="enterprise",
        manager=True,
    ),
    Case(
        "renewal-complaint",
        "Поддержка отвечает очень медленно, недоволен.",
        P2,
        "lifecycle.renewal_risk",
        stage="renewal",
        tier="premium",
    ),
    Case(
        "delete-account",
        "Прошу удалить мой аккаунт и все мои данные.",
        P1,
        "text.churn_intent",
        not_fired=("text.safety",),
    ),
    Case("site-down", "Сайт не открывается уже три часа.", P2, "text.outage"),
    Case(
        "delayed",
        "Доставка задерживается вторую неделю, никто не отвечает.",
        P2,
        "text.disappointed",
    ),
    Case("question-autorenew", "Как отключить автопродление?", P3, "text.question"),
    Case("fraud", "Меня обманули, это мошенничество.", P1, "text.safety"),
    Case("clarify", "Добрый день! Хотел бы уточнить условия доставки.", P3, "text.question"),
]


# --- Finnish -----------------------------------------------------------------------------

FI = [
    Case(
        "churn",
        "Irtisanon sopimuksen heti. Siirryn kilpailijalle.",
        P1,
        "text.churn_intent",
        category="churn_threat",
    ),
    Case(
        "churn-order",
        "Haluan perua tilaukseni, palvelu ei ole sitä mitä luvattiin.",
        P1,
        "text.churn_intent",
    ),
    Case(
        "refund",
        "Minulta veloitettiin kahdesti samasta tilauksesta. Haluan rahani takaisin.",
        P2,
        "text.refund",
        category="refund_request",
    ),
    Case(
        "legal",
        "Jos asiaa ei korjata, vien asian kuluttajariitalautakuntaan ja otan "
        "yhteyttä asianajajaan.",
        P1,
        "text.legal_threat",
        manager=True,
    ),
    Case("data-loss", "Päivityksen jälkeen kaikki tietomme katosivat!", P1, "text.safety"),
    Case("outage", "Sovellus ei toimi ollenkaan, en pääse kirjautumaan sisään.", P2, "text.outage"),
    Case(
        "anger",
        "Olen todella vihainen, tämä on täysin käsittämätöntä palvelua.",
        P2,
        "text.anger",
        category="frustrated",
    ),
    Case(
        "praise-promoter",
        "Loistava palvelu ja nopea toimitus. Kiitos!",
        P4,
        "text.praise",
        nps=10,
        channel="nps_survey",
        action="ask_for_review",
    ),
    Case(
        "question",
        "Miten voin vaihtaa laskutusosoitteen?",
        P3,
        "text.question",
        not_fired=("text.churn_intent",),
    ),
    Case(
        "question-password",
        "Miten vaihdan salasanan?",
        P3,
        "text.question",
        not_fired=("text.churn_intent",),
    ),
    Case(
        "holiday-not-churn",
        "Lähden lomalle ensi viikolla, voinko keskeyttää tilauksen?",
        P3,
        "text.question",
        not_fired=("text.churn_intent",),
    ),
    Case(
        "mild-disappointment",
        "Olin hieman pettynyt, odotin parempaa laatua.",
        P3,
        "text.disappointed.mild",
        category="disappointed",
    ),
    Case(
        "not-satisfied",
        "En ole tyytyväinen palveluun.",
        P2,
        "text.disappointed",
        not_fired=("text.praise",),
    ),
    Case(
        "public-angry",
        "Surkein firma ikinä! Älkää ostako mitään täältä!!!",
        P1,
        "channel.public.angry_detractor",
        channel="social_media",
    ),
    Case(
        "enterprise-churn",
        "Emme uusi sopimusta ensi vuonna, vaihdamme toiseen toimittajaan.",
        P1,
        "key_account.at_risk",
        tier="enterprise",
        manager=True,
    ),
    Case(
        "bare-one-star",
        "",
        P2,
        "rating.low",
        rating=2,
        channel="in_app",
        action="ask_what_went_wrong",
    ),
    Case("no-answer", "Kukaan ei ole vastannut viesteihini viikkoon.", P2, "text.disappointed"),
    Case("crashes", "Sovellus kaatuu joka kerta kun avaan sen.", P2, "text.outage"),
    Case("furious", "Olen raivoissani!", P2, "text.anger"),
    Case(
        "consumer-advice",
        "Otan yhteyttä kuluttajaneuvontaan.",
        P1,
        "text.legal_threat",
        manager=True,
    ),
    Case(
        "refund-credit",
        "Laskussa on virhe, minulta veloitettiin liikaa. Vaadin hyvitystä.",
        P2,
        "text.refund",
    ),
    Case("when-invoice", "Milloin seuraava lasku erääntyy?", P3, "text.question"),
]


@pytest.mark.parametrize("case", params(EN))
def test_english(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("case", params(EL))
def test_greek(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("case", params(ZH))
def test_chinese(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("case", params(RU))
def test_russian(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("case", params(FI))
def test_finnish(case: Case) -> None:
    check(case)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Θέλω να ακυρώσω τη συνδρομή μου αμέσως.", "el"),
        ("我要取消订阅，已经决定换别家了。", "zh"),
        ("Отменяю подписку и ухожу к конкурентам.", "ru"),
        ("Päivityksen jälkeen kaikki tietomme katosivat!", "fi"),
        ("I want to cancel my subscription, this is the third outage.", "en"),
    ],
)
def test_assessment_reports_the_detected_language(text: str, language: str) -> None:
    case = Case("lang", text, P1, "text.churn_intent")
    assert ENGINE.assess(event(case)).language == language


def test_every_language_table_covers_the_eight_kinds() -> None:
    for table in (EN, EL, ZH, RU, FI):
        assert len(table) >= 8
        rules = {c.rule for c in table}
        assert {"text.question"} <= rules
        assert any(c.priority is P1 for c in table)
        assert any(c.priority is P4 for c in table)


# --- offline language guess (service/rules/language.py) ---------------------------------

DETECT = [
    ("en", "I have been waiting for a refund for two weeks and nobody answers my emails."),
    ("en", "The app is great but the sync with my calendar is broken."),
    ("el", "Η παραγγελία μου δεν έχει φτάσει ακόμα και κανείς δεν απαντά στο τηλέφωνο."),
    ("el", "ΑΠΑΡΑΔΕΚΤΟ!!!"),
    ("zh", "我已经等了两个星期，还没有收到退款。"),
    ("zh", "APP一直闪退，从早上到现在完全打不开。"),
    ("ru", "Я жду возврата денег уже две недели, и никто не отвечает на мои письма."),
    ("ru", "Верните деньги! Order #12345"),
    ("fi", "Olen odottanut hyvitystä kaksi viikkoa, eikä kukaan vastaa sähköposteihini."),
    ("fi", "Tilaus ei ole vielä saapunut ja asiakaspalvelu ei vastaa."),
    ("fi", "Sovellus on hyvä mutta synkronointi ei toimi."),
    ("de", "Ich warte seit zwei Wochen auf meine Rückerstattung und niemand antwortet."),
    ("de", "Die App ist nicht gut, ich bin sehr enttäuscht von dem Service."),
    ("es", "Llevo dos semanas esperando el reembolso y nadie responde a mis correos."),
    ("es", "La aplicación no funciona y el servicio es muy malo."),
    ("fr", "J'attends mon remboursement depuis deux semaines et personne ne répond."),
    ("fr", "Je ne suis pas satisfait du service, très déçu."),
    ("pt", "Estou esperando o reembolso há duas semanas e ninguém responde aos meus e-mails."),
    ("pt", "O aplicativo não funciona e o atendimento é muito ruim."),
    ("ja", "注文した商品がまだ届きません。"),
    ("ko", "환불을 요청합니다"),
]


@pytest.mark.parametrize(
    ("language", "text"), DETECT, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(DETECT)]
)
def test_detect_language(language: str, text: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "   ", "12345 !!! ???", "🙂🙂🙂"])
def test_detect_language_undetermined(text: str) -> None:
    assert detect_language(text) == "und"


def test_detect_language_reads_only_the_start_of_long_texts() -> None:
    text = "Отменяю подписку. " * 200 + "I want to cancel " * 10_000
    assert detect_language(text) == "ru"


def test_the_prioritizer_loads_the_language_model_before_its_first_batch() -> None:
    from service.clock import SystemClock
    from service.config import Settings
    from service.kafka.prioritizer_runtime import PrioritizerRuntime
    from service.observability.metrics import Metrics
    from service.rules import language

    language._model.cache_clear()
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9")
    PrioritizerRuntime(settings, {}, load_default_rules(), SystemClock(), Metrics())
    assert language._model.cache_info().currsize == 1  # loaded, not on first use
