"""E-mail addresses and passwords as the region's players choose them."""

FIRST = {
    "ID": ["budi", "siti", "agus", "dewi", "putri", "rizky", "andi", "fajar", "indah", "yoga", "dimas", "ayu",
           "bayu", "nur", "rina", "eko", "wahyu", "fitri", "reza", "aditya", "dani", "ilham", "sari", "bagus"],
    "PH": ["juan", "maria", "jose", "mark", "angel", "john", "princess", "jerome", "kristine", "jayson", "mae",
           "carlo", "joshua", "nicole", "paolo", "rhea", "ian", "camille"],
    "VN": ["minh", "anh", "linh", "huy", "trang", "duc", "hoa", "nam", "thao", "khanh", "tuan", "phuong",
           "quang", "hieu", "vy", "long"],
    "TH": ["somchai", "nattapong", "supaporn", "kittisak", "ploy", "anan", "chaiya", "pim", "thanakorn",
           "siriporn", "arthit", "nong"],
    "MY": ["ahmad", "nurul", "muhammad", "aisyah", "hafiz", "farah", "amirul", "wei", "jun", "kumar", "syafiq", "izzati"],
    "SG": ["wei", "jun", "ethan", "chloe", "ryan", "zhi", "hui", "marcus", "isaac", "rachel"],
}
LAST = {
    "ID": ["santoso", "wijaya", "saputra", "pratama", "hidayat", "kurniawan", "setiawan", "nugroho", "lestari", "ramadhan"],
    "PH": ["delacruz", "santos", "reyes", "garcia", "mendoza", "bautista", "villanueva", "ramos", "aquino", "castillo"],
    "VN": ["nguyen", "tran", "le", "pham", "hoang", "huynh", "vu", "dang", "bui", "do"],
    "TH": ["saetang", "srisuk", "wongsa", "chaiyaporn", "boonmee", "kaewkla", "sukprasert"],
    "MY": ["abdullah", "ismail", "rahman", "tan", "lim", "lee", "ibrahim", "hassan"],
    "SG": ["tan", "lim", "lee", "ng", "ong", "wong", "goh", "chua"],
}
GAMER = ["shadow", "dark", "slayer", "ninja", "dragon", "king", "pro", "legend", "ghost", "sniper", "wolf",
         "killer", "hunter", "blaze", "storm", "venom", "toxic", "mvp", "gg", "noob", "ace", "reaper", "savage"]
DOMAINS = {
    "ID": [("gmail.com", 78), ("yahoo.com", 8), ("yahoo.co.id", 6), ("ymail.com", 2), ("outlook.com", 3), ("hotmail.com", 3)],
    "PH": [("gmail.com", 75), ("yahoo.com", 12), ("outlook.com", 4), ("hotmail.com", 5), ("ymail.com", 4)],
    "VN": [("gmail.com", 88), ("yahoo.com", 4), ("outlook.com", 4), ("hotmail.com", 4)],
    "TH": [("gmail.com", 80), ("hotmail.com", 12), ("outlook.com", 5), ("yahoo.com", 3)],
    "MY": [("gmail.com", 78), ("yahoo.com", 8), ("hotmail.com", 8), ("outlook.com", 6)],
    "SG": [("gmail.com", 70), ("hotmail.com", 10), ("outlook.com", 10), ("yahoo.com.sg", 5), ("icloud.com", 5)],
}
# Popular passwords in the region's leaks (Indonesian, Tagalog and Vietnamese "I love
# you"s, the Muslim invocation, the usual digits), of the length the game allows (8+).
COMMON_PASSWORDS = ["123456789", "12345678", "bismillah", "sayang123", "mahalkita", "anhyeuem", "qwerty123",
                    "password1", "indonesia1", "iloveyou1"]
WORDS = ["sayang", "cinta", "mahal", "yeuem", "rahasia", "ganteng", "cantik", "bintang", "matahari", "kucing",
         "mobile", "legend", "dragon", "pokemon", "naruto", "garena", "rank", "mythic", "honor", "password"]


def pick_weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def email(rng, country):
    """A plausible address: a name, a gamer tag, digits (birth years, lucky numbers)."""
    first = rng.choice(FIRST[country])
    r = rng.random()
    if r < 0.35:
        local = first + rng.choice(["", ".", "_"]) + rng.choice(LAST[country])
    elif r < 0.6:
        local = rng.choice(GAMER) + first
    elif r < 0.8:
        local = first + rng.choice(GAMER)
    else:
        local = first + rng.choice(["", "."]) + rng.choice(LAST[country])[:3]
    d = rng.random()
    if d < 0.35:
        local += str(rng.randrange(1985, 2012))
    elif d < 0.8:
        local += str(rng.randrange(0, 1000))
    return local + "@" + pick_weighted(rng, DOMAINS[country])


def password(rng):
    r = rng.random()
    if r < 0.4:
        return rng.choice(WORDS) + str(rng.randrange(0, 10000))
    if r < 0.7:
        return rng.choice(WORDS) + rng.choice(WORDS) + rng.choice(["", "!", "@", "123"])
    return "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(rng.randrange(9, 15)))


def typo_password(rng, pw):
    """What a person types instead of their password (a slip, caps lock, a missing digit)."""
    r = rng.random()
    if r < 0.3 and len(pw) > 1:
        i = rng.randrange(len(pw) - 1)
        return pw[:i] + pw[i + 1] + pw[i] + pw[i + 2:]
    if r < 0.5:
        return pw.swapcase()
    if r < 0.75:
        return pw[:-1]
    return pw + rng.choice(["1", "!", "a", "."])


def typo_email(rng, addr):
    local, domain = addr.split("@", 1)
    r = rng.random()
    if r < 0.4 and domain.startswith("gmail"):
        domain = rng.choice(["gmial.com", "gmai.com", "gmail.co", "gamil.com", "gmail.con"])
    elif r < 0.6 and "yahoo" in domain:
        domain = rng.choice(["yaho.com", "yahoo.co", "yahooo.com"])
    elif len(local) > 3:
        i = rng.randrange(len(local))
        local = local[:i] + local[i + 1:]
    else:
        local += "1"
    return local + "@" + domain
