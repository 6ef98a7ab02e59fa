"""Made-up customers and addresses for the simulated market."""

import random
from typing import Any

FIRST_NAMES = (
    "Camille", "Lucas", "Emma", "Hugo", "Léa", "Jonas", "Marta", "Pablo", "Giulia",
    "Matteo", "Sophie", "Noah", "Olivia", "Liam", "Ava", "Ethan", "Yuki", "Haruto",
    "Sakura", "Ren", "Chloé", "Louis", "Ines", "Felix", "Clara", "Diego", "Aiko",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Müller", "Schmidt", "García", "López", "Rossi",
    "Bianchi", "Smith", "Johnson", "Brown", "Taylor", "Sato", "Suzuki", "Takahashi",
    "Moreau", "Laurent", "Weber", "Fernández", "Ricci", "Miller", "Davis", "Tanaka",
)  # fmt: skip
STREETS = (
    "Rue des Lilas", "Avenue Victor Hugo", "Hauptstraße", "Calle Mayor",
    "Via Roma", "Main Street", "Oak Avenue", "Sakura-dori", "Boulevard Voltaire",
)  # fmt: skip
CITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "FR": (("Paris", "75011"), ("Lyon", "69003"), ("Bordeaux", "33000")),
    "DE": (("Berlin", "10115"), ("München", "80331"), ("Hamburg", "20095")),
    "ES": (("Madrid", "28013"), ("Barcelona", "08001"), ("Valencia", "46002")),
    "IT": (("Roma", "00184"), ("Milano", "20121"), ("Torino", "10121")),
    "US": (("Austin", "78701"), ("Denver", "80202"), ("Portland", "97205")),
    "JP": (("Tokyo", "100-0001"), ("Osaka", "530-0001"), ("Kyoto", "600-8001")),
}


def make_customer(rng: random.Random, country: str) -> dict[str, Any]:
    """A customer's address in Back Market's snake_case fields."""
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    city, postal = rng.choice(CITIES.get(country, CITIES["FR"]))
    handle = f"{first}.{last}".lower().encode("ascii", "ignore").decode()
    return {
        "company": "",
        "first_name": first,
        "last_name": last,
        "gender": rng.choice((0, 1)),
        "street": f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
        "street2": "",
        "postal_code": postal,
        "city": city,
        "country": country,
        "phone": f"+00 {rng.randint(100000000, 999999999)}",
        "email": f"{handle}.{rng.randint(10, 99)}@example.com",
        "customer_id_number": "",
    }
