"""Organisations and keys: create, revoke (the key shown once), allow-lists, limits, policies, and
each organisation's use this month against its quotas and budget."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from onshore.admin import limits as limits_ops
from onshore.admin import policy as policy_ops
from onshore.admin import tenancy
from onshore.admin.org_usage import OrgUsage, org_usage, orgs_usage
from onshore.domain.limits import Scope
from onshore.web.http import Response, redirect, set_cookie
from onshore.web.i18n import Formatter
from onshore.web.pages.subjects import FORM_CHOICES
from onshore.web.render import View
from onshore.web.session import FLASH_COOKIE, FLASH_TTL_S

_CHECKBOX_ON = "on"


async def list_orgs(view: View) -> Response:
    """Every organisation with this month's use against its token quota and budget (one rollup query)."""
    store, now = view.services.store, view.services.clock.now()
    uses = await view.run(lambda: orgs_usage(store.usage, store.tenancy, store.limits, now=now))
    return view.render("orgs.html", uses=uses, month=now.date(), done=view.request.query("done"))


async def create_org(view: View) -> Response:
    name = await view.request.field("name")
    allowed = tenancy.jurisdictions_arg(await view.request.field("jurisdictions") or None)
    store = view.services.store
    org = await view.run(
        lambda: tenancy.create_org(store.tenancy, name, jurisdictions=allowed, actor=view.actor)
    )
    if allowed is not None:
        await view.services.announce_limits_change()
    return redirect(f"/dashboard/orgs/{quote(org.name)}?done=org_created")


async def show_org(view: View) -> Response:
    new_key = view.unseal(view.request.cookie(FLASH_COOKIE))
    page = await _org_page(view, view.args[0], new_key=new_key)
    if view.request.cookie(FLASH_COOKIE) is not None:
        page.headers.append((b"set-cookie", set_cookie(FLASH_COOKIE, "", max_age=0).encode()))
    return page


async def _org_page(view: View, org_name: str, *, new_key: str | None = None) -> Response:
    store, home = view.services.store, view.services.settings.server.jurisdiction
    org = await view.run(lambda: tenancy.require_org(store.tenancy, org_name))
    keys = await view.run(lambda: tenancy.list_keys(store.tenancy, org.name))
    limits = await view.run(lambda: limits_ops.show_limits(store.tenancy, store.limits, Scope.ORG, org.name))
    policy = await view.run(
        lambda: policy_ops.show_policy(store.tenancy, store.policies, Scope.ORG, org.name, home=home)
    )
    now = view.services.clock.now()
    use = await view.run(lambda: org_usage(store.usage, store.tenancy, store.limits, org.name, now=now))
    return view.render(
        "org.html",
        org=org,
        keys=keys,
        limits=limits.limits,
        policy=policy,
        use=use,
        quotas=_quotas(use, view.fmt),
        month=now.date(),
        new_key=new_key,
        **FORM_CHOICES,
        done=view.request.query("done"),
        now=now,
    )


@dataclass(frozen=True, slots=True)
class Quota:
    """One monthly limit against this month's use, formatted for the page."""

    name: str
    share: float | None  # of the limit used; None without a limit
    used: str
    limit: str | None


def _quotas(use: OrgUsage, fmt: Formatter) -> list[Quota]:
    quota, budget = use.limits.monthly_tokens, use.limits.monthly_budget_krw
    return [
        Quota(
            "monthly_tokens",
            use.tokens_used,
            fmt.number(use.total_tokens),
            fmt.number(quota) if quota else None,
        ),
        Quota(
            "monthly_budget_krw", use.budget_used, fmt.won(use.cost_krw), fmt.won(budget) if budget else None
        ),
    ]


async def create_key(view: View) -> Response:
    """The new key is shown once, on this response: never in a URL, a redirect or a log."""
    org_name = view.args[0]
    request = view.request
    models = [m.strip() for m in (await request.field("models")).split(",") if m.strip()] or None
    allowed = tenancy.jurisdictions_arg(await request.field("jurisdictions") or None)
    store = view.services.store
    new = await view.run(
        lambda: tenancy.create_key(
            store.tenancy,
            store.digester,
            org_name,
            name=None,
            models=models,
            expires_in=None,
            jurisdictions=allowed,
            policies=store.policies,
            home=view.services.settings.server.jurisdiction,
            actor=view.actor,
        )
    )
    if allowed is not None:
        await view.services.announce_limits_change()
    await view.services.key_sync.refresh_key(new.key.id)
    # Post/redirect/get: the key rides a sealed, short-lived cookie to the next page, which shows it
    # once and drops it; reloading that page neither shows it again nor makes a second key.
    return redirect(
        f"/dashboard/orgs/{quote(org_name)}?done=key_created",
        cookies=(set_cookie(FLASH_COOKIE, view.seal(new.secret), max_age=FLASH_TTL_S),),
    )


async def revoke_key(view: View) -> Response:
    store = view.services.store
    key = await view.run(lambda: tenancy.revoke_key(store.tenancy, view.args[0], actor=view.actor))
    await view.services.revoke_everywhere(key.id)
    org = await view.run(lambda: store.tenancy.get_org(key.org_id))
    return redirect(f"/dashboard/orgs/{quote(org.name) if org else ''}?done=key_revoked")
