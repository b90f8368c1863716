"""The support call every completed transcript contains.

Entities are marked inline as `{entity_type:text}` so entity detection, PII redaction and
custom formatting all read the same source. Each line is (speaker, sentiment, text).
"""

from __future__ import annotations

SUPPORT_CALL: tuple[tuple[str, str, str], ...] = (
    (
        "A",
        "POSITIVE",
        "Thank you for calling {organization:Northwind Telecom} billing support, "
        "this is {person_name:Sam}. How can I help you today?",
    ),
    (
        "B",
        "NEGATIVE",
        "Hi {person_name:Sam}. I'm calling because I got charged twice for my monthly plan, "
        "and honestly I'm pretty frustrated.",
    ),
    (
        "A",
        "NEUTRAL",
        "I'm sorry to hear that. I can look into the double charge for you. "
        "Can I get your name and the phone number on the account?",
    ),
    ("B", "NEUTRAL", "It's {person_name:Maria Lopez}, and the number is {phone_number:555-867-5309}."),
    (
        "A",
        "NEUTRAL",
        "Thank you, {person_name:Maria}. I have your account up now. Let me check the recent payments.",
    ),
    (
        "B",
        "NEGATIVE",
        "I saw two charges of {money_amount:$89.99} on {date:March 3rd}, "
        "and this is the second time this has happened.",
    ),
    (
        "A",
        "NEUTRAL",
        "I see both payments here. It looks like the automatic payment ran twice "
        "after our billing system update on {date:March 2nd}.",
    ),
    (
        "B",
        "NEGATIVE",
        "That's really not okay. My bank charged me an overdraft fee because of this. "
        "I've been a customer for six years.",
    ),
    (
        "A",
        "POSITIVE",
        "I completely understand, and I apologize for the trouble. "
        "I'm going to issue a refund for the duplicate charge right now.",
    ),
    ("B", "NEGATIVE", "How long is the refund going to take? Last time it took almost three weeks."),
    (
        "A",
        "NEUTRAL",
        "The refund of {money_amount:$89.99} should post to your card within five to seven business days.",
    ),
    (
        "B",
        "NEGATIVE",
        "Five to seven days is too long. I want the overdraft fee covered too, "
        "and I want to speak to a supervisor.",
    ),
    (
        "A",
        "POSITIVE",
        "That's fair. I can escalate this to my supervisor so the overdraft fee can be "
        "reviewed. I'll open an escalation ticket now.",
    ),
    ("B", "NEUTRAL", "Okay. What's the ticket number?"),
    (
        "A",
        "NEUTRAL",
        "Your escalation ticket number is {number_sequence:48217}. A supervisor will call "
        "you back within twenty four hours.",
    ),
    (
        "B",
        "NEUTRAL",
        "Can you also email me a confirmation of the refund? "
        "My email is {email_address:maria.lopez@example.com}.",
    ),
    (
        "A",
        "POSITIVE",
        "Absolutely. I just sent the confirmation to {email_address:maria.lopez@example.com}. "
        "I also turned off the duplicate autopay so this doesn't happen again.",
    ),
    ("B", "POSITIVE", "Alright, thank you. I appreciate you taking care of the refund at least."),
    (
        "A",
        "POSITIVE",
        "You're welcome, {person_name:Maria}. Is there anything else I can help you with today?",
    ),
    ("B", "NEUTRAL", "No, that's everything. I'll wait for the supervisor's call."),
    ("A", "POSITIVE", "Thanks for your patience, and have a great day."),
)

# Values custom formatting needs to reformat what the speakers said.
CANONICAL_VALUES: dict[str, str] = {
    "March 3rd": "2025-03-03",
    "March 2nd": "2025-03-02",
    "555-867-5309": "5558675309",
}

# (first utterance index, last utterance index, headline, gist, summary)
CHAPTERS: tuple[tuple[int, int, str, str, str], ...] = (
    (
        0,
        4,
        "Customer calls about being charged twice",
        "Double charge call",
        "Maria Lopez calls Northwind Telecom billing support after being charged twice for her "
        "monthly plan. The agent, Sam, verifies her account.",
    ),
    (
        5,
        10,
        "Duplicate autopay charge confirmed and refunded",
        "Refund issued",
        "The agent finds that the automatic payment ran twice after a billing system update and "
        "issues a refund of $89.99, due within five to seven business days.",
    ),
    (
        11,
        20,
        "Overdraft fee escalated to a supervisor",
        "Escalation",
        "The customer asks for the overdraft fee to be covered and for a supervisor. The agent opens "
        "escalation ticket 48217, emails a confirmation and disables the duplicate autopay.",
    ),
)

SUMMARY_BULLETS = (
    "- Maria Lopez was charged $89.99 twice because autopay ran twice after a billing update.\n"
    "- The agent issued a refund for the duplicate charge (five to seven business days).\n"
    "- The overdraft fee was escalated to a supervisor under ticket 48217; "
    "a callback is due within 24 hours."
)

SUMMARY_PARAGRAPH = (
    "A frustrated customer, Maria Lopez, called Northwind Telecom because she was charged $89.99 "
    "twice. The agent refunded the duplicate charge, disabled the duplicate autopay and escalated "
    "her overdraft fee to a supervisor under ticket 48217."
)

KEY_PHRASES = (
    "double charge",
    "refund",
    "overdraft fee",
    "escalation ticket",
    "supervisor",
    "duplicate charge",
    "automatic payment",
)

TOPIC_LABELS = (
    ("PersonalFinance>PersonalDebt", 0.91),
    ("Technology&Computing>Telecommunications", 0.74),
    ("BusinessAndFinance>Business>BusinessBanking&Finance", 0.52),
)
