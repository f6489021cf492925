"""The canned replies a fresh install ships with, written from the support policy (the FAQ's questions, the
severity chart, the S1 on-call promise). Shared with every agent; team leads edit or retire them. A reply
an operator already made under one of these names is left as it is."""

from django.db import migrations

STARTER = [
    {
        "name": "Need more details",
        "set_status": "pending",
        "body": (
            "Hi {requester_name},\n\n"
            "Thanks for reaching out about {reference}. So that we can look into it quickly, could you tell "
            "us as much of the following as you have?\n\n"
            "- Who is affected: the coordinator, interviewers or candidates? Just you, or other users too?\n"
            "- What and where: what you see, which section of the product and which feature you were "
            "using, and any error message word for word (a screenshot helps).\n"
            "- When: is it happening now? If it happened in the past, was it once or does it keep "
            "happening? The date and time range, please.\n"
            "- For a specific interview: the candidate's name and email, the interviewers, the position, "
            "and the interview template (with any changes you made to its events or interviewers).\n\n"
            "As soon as we have this we pick the ticket up again.\n\n"
            "{agent_first_name}"
        ),
    },
    {
        "name": "S1 acknowledged — on-call engaged",
        "set_status": "open",
        "body": (
            "Hi {requester_name},\n\n"
            "We have your report ({reference}) and are treating it as S1 Critical: our on-call engineer "
            "is engaged and working on it now. S1 issues are handled around the clock.\n\n"
            "We will write again with what we find, and at least every four hours until it is resolved. If "
            "anything changes on your side (more users affected, a new error), reply here and it reaches "
            "the on-call engineer straight away.\n\n"
            "{agent_name}"
        ),
    },
    {
        "name": "Workaround available",
        "set_status": "pending",
        "body": (
            "Hi {requester_name},\n\n"
            "While we work on a fix for {reference}, here is a way around it:\n\n"
            "1. \n2. \n\n"
            "Could you try it and tell us whether it gets you going? We keep the ticket open until the "
            "fix itself is released, and will let you know when it is.\n\n"
            "{agent_first_name}"
        ),
    },
    {
        "name": "Waiting for your confirmation",
        "set_status": "pending",
        "body": (
            "Hi {requester_name},\n\n"
            'We believe {reference} ("{subject}") is fixed. Could you check on your side and confirm it '
            "works for you now? If it does not, reply with what you see and we carry on.\n\n"
            "{agent_first_name}"
        ),
    },
    {
        "name": "Feature request logged",
        "set_status": "resolved",
        "body": (
            "Hi {requester_name},\n\n"
            "Thank you for the suggestion. We have logged it with our product team as a feature request "
            "(S5) under {reference}. What helps them most is why you need it and how it would change your "
            "process: if you have not told us yet, reply and we add it to the request.\n\n"
            "We cannot promise a date, but requests like yours decide what we build next.\n\n"
            "{agent_first_name}"
        ),
    },
    {
        "name": "Investigating — update to follow",
        "set_status": "open",
        "body": (
            "Hi {requester_name},\n\n"
            "Thanks for the details on {reference}. We have reproduced the problem and our engineers are "
            "looking at it. We will update you as soon as we know more.\n\n"
            "{agent_first_name}"
        ),
    },
    {
        "name": "Escalated to engineering",
        "set_status": "on_hold",
        "body": (
            "Hi {requester_name},\n\n"
            "We have passed {reference} to our engineering team, who are working on a fix. The ticket "
            "stays open while they do, and we will tell you when the fix is released.\n\n"
            "{agent_first_name}"
        ),
    },
    {
        "name": "Resolved — reply to reopen",
        "set_status": "resolved",
        "body": (
            "Hi {requester_name},\n\n"
            "We are marking {reference} as resolved. If anything is still not right, just reply to this "
            "message and the ticket reopens.\n\n"
            "Thanks for your patience,\n{agent_first_name}"
        ),
    },
    {
        "name": "After-hours S2–S5 reply",
        "set_status": "",
        "body": (
            "Hi {requester_name},\n\n"
            "Thanks for your message about {reference}. Our engineering team is not yet around the clock: "
            "S2 to S5 tickets that arrive after 6 PM Pacific are picked up the next business day. "
            "{sla_promise}\n\n"
            "If this is stopping your team from working altogether, reply and tell us: we will treat it "
            "as S1.\n\n"
            "{agent_first_name}"
        ),
    },
]


def install(apps, schema_editor):
    Macro = apps.get_model("tickets", "Macro")
    for reply in STARTER:
        Macro.objects.get_or_create(
            name=reply["name"],
            shared=True,
            defaults={"body": reply["body"], "set_status": reply["set_status"], "active": True},
        )


def remove(apps, schema_editor):
    Macro = apps.get_model("tickets", "Macro")
    for reply in STARTER:
        Macro.objects.filter(
            name=reply["name"], shared=True, created_by__isnull=True, body=reply["body"]
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("tickets", "0017_agent_profiles_personal_canned_replies")]

    operations = [migrations.RunPython(install, remove)]
