"""Keyword triage for Escalier, as a Python plugin.

- ticket.created: subject and description are matched against the
  configured keywords; each match may set a priority, add a tag and
  route to a team.
- comment.added by the customer: frustration words tag the ticket
  `frustrated`; after `escalate_after` frustrated comments on one ticket
  (counted in kv, per ticket) the ticket is escalated to tier 2.

Built with componentize-py against ../../../wit (world `plugin`).
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, kv, log
from wit_world.imports.types import (
    Action_Escalate,
    Action_Route,
    Action_SetPriority,
    Action_Tag,
    Error_InvalidInput,
    Error_Unsupported,
    Escalation,
    Routing,
)

PRIORITY_ORDER = ["low", "normal", "high", "urgent"]


def _config(key, default):
    raw = config.get(key)
    return default if raw is None else json.loads(raw)


def _data(event):
    try:
        return json.loads(event.data)
    except ValueError as e:
        raise Err(Error_InvalidInput(f"{event.type} data: {e}"))


class Handler(exports.Handler):
    def handle(self, ticket, event):
        if event.type == "ticket.created":
            return self._new_ticket(ticket, _data(event))
        if event.type == "comment.added":
            return self._comment(ticket, _data(event))
        return []

    def _new_ticket(self, ticket, data):
        text = (data.get("subject", "") + " " + data.get("description", "")).lower()
        actions = []
        priority = ticket.priority
        for word, rule in sorted(_config("keywords", {}).items()):
            if word.lower() not in text:
                continue
            wanted = rule.get("priority")
            if wanted in PRIORITY_ORDER and PRIORITY_ORDER.index(wanted) > PRIORITY_ORDER.index(priority):
                priority = wanted
            if rule.get("tag"):
                actions.append(Action_Tag(rule["tag"]))
            if rule.get("route"):
                actions.append(Action_Route(Routing(rule["route"], f"mentions '{word}'")))
        if priority != ticket.priority:
            actions.insert(0, Action_SetPriority(priority))
        return actions

    def _comment(self, ticket, data):
        if data.get("author", {}).get("kind") != "customer":
            return []
        body = data.get("body", "").lower()
        words = _config("frustration_words", [])
        hits = [w for w in words if w.lower() in body]
        if not hits:
            return []
        count = int(kv.get("frustrated") or "0") + 1
        kv.set("frustrated", str(count))
        log.log(log.Level.INFO, f"frustrated comment #{count} on {ticket.id}: {', '.join(hits)}")
        actions = [Action_Tag("frustrated")]
        if count >= int(_config("escalate_after", 2)) and ticket.tier < 2:
            actions.append(
                Action_Escalate(Escalation(2, f"customer frustrated in {count} comments ({', '.join(hits)})"))
            )
        return actions


class Adapter(exports.Adapter):
    def adapt(self, headers, body):
        raise Err(Error_Unsupported("triage-py is not an adapter"))


class Commands(exports.Commands):
    def run(self, ticket, name, args, by):
        raise Err(Error_Unsupported(f"triage-py has no command {name}"))
