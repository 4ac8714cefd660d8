"""Where the patient belongs (病人属于), derived from the current address and the place of
the consortium: same county is THIS_COUNTY, same city another county
OTHER_COUNTY_THIS_CITY, same province OTHER_CITY_THIS_PROVINCE, another province
OTHER_PROVINCE; Hong Kong, Macao and Taiwan (as province or country) HK_MACAO_TAIWAN; a
country other than China FOREIGN. An address that stops before the level that decides
(no province, or the consortium's province without a city, ...) decides nothing: the card
then asks for belonging. What the member sent itself always wins (see `with_belonging`).

Names are compared without their administrative suffix (四川省 = 四川, 绵阳市 = 绵阳,
广西壮族自治区 = 广西), but never cut to one character (安县 stays 安县).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.models.common import Address, Belonging, Patient
from schemas.reference.registry import ConsortiumInfo

SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州",
            "自治县", "地区", "省", "市", "县", "区", "盟", "旗")
CHINA = frozenset({"CN", "CHN", "156", "中国", "中华人民共和国", "CHINA", "PRC"})
HK_MACAO_TAIWAN_COUNTRIES = frozenset({"HK", "HKG", "MO", "MAC", "TW", "TWN"})
HK_MACAO_TAIWAN_PROVINCES = frozenset({"香港", "澳门", "台湾", "澳門", "臺灣", "台灣"})


def place_name(name: str | None) -> str:
    """A place name without spaces and its administrative suffix; empty when absent."""
    text = "".join((name or "").split())
    for suffix in SUFFIXES:
        if text.endswith(suffix) and len(text) - len(suffix) >= 2:
            return text[: -len(suffix)]
    return text


@dataclass(frozen=True, slots=True)
class Home:
    """The consortium's province, city and county, as the registry names them."""

    province: str
    city: str
    county: str

    @classmethod
    def of(cls, consortium: ConsortiumInfo) -> Home | None:
        """None when the registry does not say where the consortium is."""
        if not (consortium.province and consortium.city and consortium.county):
            return None
        return cls(consortium.province, consortium.city, consortium.county)


def belonging_of(address: Address | None, home: Home | None) -> Belonging | None:
    """The belonging an address gives, or None when it is too incomplete to say."""
    if address is None or home is None:
        return None
    country = "".join((address.country or "").split()).upper()
    if country in HK_MACAO_TAIWAN_COUNTRIES:
        return Belonging.HK_MACAO_TAIWAN
    if country and country not in CHINA:
        return Belonging.FOREIGN
    province = place_name(address.province)
    if province in HK_MACAO_TAIWAN_PROVINCES:
        return Belonging.HK_MACAO_TAIWAN
    levels = (
        (province, place_name(home.province), Belonging.OTHER_PROVINCE),
        (place_name(address.city), place_name(home.city), Belonging.OTHER_CITY_THIS_PROVINCE),
        (place_name(address.county), place_name(home.county), Belonging.OTHER_COUNTY_THIS_CITY),
    )
    for given, own, elsewhere in levels:
        if not given:
            return None
        if given != own:
            return elsewhere
    return Belonging.THIS_COUNTY


def with_belonging(patient: Patient, home: Home | None) -> Patient:
    """The patient with belonging derived from the address, unless the member sent it."""
    if patient.belonging is not None:
        return patient
    derived = belonging_of(patient.address, home)
    return patient if derived is None else patient.model_copy(update={"belonging": derived})
