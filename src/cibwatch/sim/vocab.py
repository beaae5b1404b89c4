"""Word lists the simulator draws profiles and text from.

Every entry is JSON-safe (no quote, backslash or control character), so the writers can put
them between quotes without escaping; ``_check`` enforces that at import.
"""

from __future__ import annotations

FIRST_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard "
    "Susan Joseph Jessica Thomas Sarah Chris Karen Daniel Lisa Matthew Nancy Anthony Betty Mark "
    "Sandra Paul Ashley Steven Kim Andrew Emily Josh Donna Kevin Michelle Brian Carol George Amanda "
    "Tim Melissa Ryan Deborah Jason Stephanie Jeff Rebecca Gary Laura Nick Sharon Eric Cynthia Jacob "
    "Kathleen Larry Amy Frank Angela Scott Anna Justin Brenda Ben Pamela Sam Emma Greg Nicole Alex "
    "Helen Pat Samantha Jack Katherine Dennis Christine Jerry Debra Tyler Rachel Aaron Carolyn Jose "
    "Janet Adam Maria Nathan Olivia Henry Heather Zach Diane Peter Julie Kyle Joyce Noah Victoria "
    "Ethan Kelly Jeremy Christina Walter Lauren Christian Joan Keith Evelyn Roger Judith Terry Megan "
    "Austin Andrea Sean Cheryl Gerald Hannah Carl Jacqueline Harold Martha Dylan Gloria Arthur Teresa "
    "Lawrence Ann Jordan Sara Jesse Madison Bryan Frances Billy Kathryn Bruce Janice Gabriel Jean Joe "
    "Abigail Logan Alice Alan Judy Juan Sophia Wayne Grace Roy Denise Ralph Amber Randy Doris Eugene "
    "Marilyn Vincent Danielle Russell Beverly Louis Isabella Philip Theresa Bobby Diana Johnny Natalie "
    "Bradley Brittany Aisha Chidi Priya Arjun Mei Hiroshi Yuki Lucas Sofia Mateo Valentina Omar Fatima "
    "Ahmed Leila Kwame Ama Tunde Ngozi Rahul Ananya Carlos Lucia Diego Camila Andrei Olga Pierre Chloe "
    "Hans Lena Marco Giulia Sven Ingrid Liam Aoife Kai Maya Ravi Deepa Wei Lin Jun Hana Tariq Zara"
).split()

LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
    "Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper "
    "Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James "
    "Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster "
    "Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Fisher Vasquez "
    "Okafor Mensah Adeyemi Sharma Gupta Singh Khan Ali Chen Wang Zhang Tanaka Sato Suzuki Silva Santos "
    "Costa Oliveira Rossi Bianchi Muller Schmidt Schneider Dubois Moreau Laurent Novak Ivanov Petrov "
    "Larsen Hansen Nielsen Berg Murray OConnor Byrne Walsh Kowalski Nowak Haddad Farouk Nasser Osei"
).split()

# (city, region, UTC offset in hours, weight)
CITIES: tuple[tuple[str, str, float, float], ...] = (
    ("New York", "NY", -5, 9.0),
    ("Brooklyn", "NY", -5, 3.0),
    ("Boston", "MA", -5, 2.5),
    ("Philadelphia", "PA", -5, 2.5),
    ("Atlanta", "GA", -5, 3.0),
    ("Miami", "FL", -5, 2.5),
    ("Washington", "DC", -5, 3.0),
    ("Detroit", "MI", -5, 1.5),
    ("Chicago", "IL", -6, 4.0),
    ("Houston", "TX", -6, 3.0),
    ("Dallas", "TX", -6, 2.5),
    ("Austin", "TX", -6, 2.0),
    ("Minneapolis", "MN", -6, 1.5),
    ("Nashville", "TN", -6, 1.5),
    ("Denver", "CO", -7, 2.0),
    ("Phoenix", "AZ", -7, 2.0),
    ("Salt Lake City", "UT", -7, 1.0),
    ("Los Angeles", "CA", -8, 6.0),
    ("San Francisco", "CA", -8, 3.0),
    ("Seattle", "WA", -8, 2.5),
    ("Portland", "OR", -8, 1.5),
    ("San Diego", "CA", -8, 1.5),
    ("Toronto", "Ontario", -5, 2.5),
    ("Vancouver", "BC", -8, 1.0),
    ("London", "England", 0, 6.0),
    ("Manchester", "England", 0, 1.5),
    ("Dublin", "Ireland", 0, 1.0),
    ("Paris", "France", 1, 2.0),
    ("Berlin", "Germany", 1, 1.5),
    ("Madrid", "Spain", 1, 1.5),
    ("Amsterdam", "Netherlands", 1, 1.0),
    ("Lagos", "Nigeria", 1, 3.0),
    ("Nairobi", "Kenya", 3, 1.5),
    ("Johannesburg", "South Africa", 2, 1.5),
    ("Mumbai", "India", 5.5, 3.0),
    ("Delhi", "India", 5.5, 2.5),
    ("Bangalore", "India", 5.5, 2.0),
    ("Manila", "Philippines", 8, 2.5),
    ("Singapore", "Singapore", 8, 1.0),
    ("Tokyo", "Japan", 9, 1.5),
    ("Sydney", "Australia", 10, 2.0),
    ("Melbourne", "Australia", 10, 1.5),
    ("Sao Paulo", "Brazil", -3, 2.5),
    ("Mexico City", "Mexico", -6, 2.0),
    ("Buenos Aires", "Argentina", -3, 1.0),
)

BIO_ROLES = (
    "mom of two",
    "dad",
    "teacher",
    "nurse",
    "software engineer",
    "student",
    "retired",
    "coffee addict",
    "dog person",
    "cat lover",
    "runner",
    "gamer",
    "photographer",
    "small business owner",
    "writer",
    "foodie",
    "music lover",
    "proud veteran",
    "grad student",
    "designer",
    "sports fan",
    "bookworm",
    "traveler",
    "gardener",
    "amateur chef",
    "data nerd",
    "film buff",
    "podcast host",
    "lawyer",
    "accountant",
)
BIO_LIKES = (
    "basketball",
    "soccer",
    "good coffee",
    "bad movies",
    "jazz",
    "hiking",
    "sci-fi",
    "history",
    "politics",
    "tacos",
    "the ocean",
    "vinyl records",
    "board games",
    "local news",
    "baking",
    "cycling",
    "poetry",
    "true crime",
    "anime",
    "football",
)
BIO_TAILS = (
    "Opinions my own.",
    "Views are mine.",
    "RTs are not endorsements.",
    "She/her.",
    "He/him.",
    "They/them.",
    "Living my best life.",
    "Just here for the memes.",
    "",
    "",
    "",
)

TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # topic: (subjects, objects)
    "politics": (
        ("the senator", "the mayor", "the council", "congress", "the governor", "the new bill", "the debate"),
        ("the budget vote", "tax reform", "the election", "public schools", "the new policy", "the hearing"),
    ),
    "sports": (
        (
            "the coach",
            "our team",
            "the rookie",
            "the defense",
            "the referee",
            "the striker",
            "the quarterback",
        ),
        ("the playoffs", "last night's game", "the transfer window", "the final", "the season opener"),
    ),
    "tech": (
        ("the new phone", "this app", "the update", "my laptop", "the startup", "the AI demo", "the release"),
        ("battery life", "the keynote", "privacy settings", "the beta", "open source", "the outage"),
    ),
    "music": (
        ("the new album", "the band", "this song", "the tour", "the opener", "the drummer", "the remix"),
        ("the concert", "the setlist", "the festival", "the lyrics", "the encore", "the music video"),
    ),
    "food": (
        ("this recipe", "the new place downtown", "my sourdough", "the food truck", "grandma", "the chef"),
        ("brunch", "the tacos", "dinner", "the menu", "spicy ramen", "the farmers market"),
    ),
    "weather": (
        ("the storm", "this heat", "the forecast", "the rain", "the wind", "the snow", "the fog"),
        ("the weekend", "my commute", "the power lines", "the school closures", "the game", "the garden"),
    ),
    "movies": (
        ("the sequel", "the director", "the trailer", "the cast", "the finale", "the documentary"),
        ("the box office", "the plot twist", "the soundtrack", "the ending", "season two", "the premiere"),
    ),
    "health": (
        ("my doctor", "the clinic", "the new study", "the gym", "my trainer", "the vaccine drive"),
        ("sleep", "the flu season", "my knee", "the waiting room", "mental health", "the checkup"),
    ),
    "local": (
        ("the city", "our neighborhood", "the bus line", "the library", "the new bridge", "the school board"),
        ("traffic", "the park", "the street fair", "rent prices", "the bike lanes", "the parade"),
    ),
    "gaming": (
        ("the patch", "the new map", "my squad", "the streamer", "the boss fight", "the devs"),
        ("ranked mode", "the tournament", "the speedrun", "the loot", "the servers", "the DLC"),
    ),
}

VERBS = (
    "is talking about",
    "just announced",
    "really nailed",
    "totally ruined",
    "is all about",
    "changed my mind on",
    "keeps ignoring",
    "made a point about",
    "is wrong about",
    "finally fixed",
    "surprised everyone with",
    "should rethink",
    "got it right on",
    "can't stop talking about",
    "is underrated for",
    "doubled down on",
)
OPENERS = (
    "",
    "",
    "",
    "honestly",
    "ok so",
    "wow",
    "lol",
    "not gonna lie",
    "hot take:",
    "today",
    "can't believe",
    "fun fact:",
    "reminder:",
    "so apparently",
    "ngl",
    "update:",
)
ENDINGS = ("", "", "", "!", ".", "...", "?", "!!", " lol", " tbh", " 😂", " 🙌", " 🔥", " 👀", " 😭", " ❤️")

REPLY_BODIES = (
    "so true",
    "this is it",
    "came here to say this",
    "100 percent",
    "I disagree",
    "source?",
    "exactly what I was thinking",
    "not sure about that",
    "lmao",
    "this aged well",
    "thank you for saying this",
    "wait what",
    "same here",
    "how is this real",
    "big if true",
    "agreed",
    "no way",
    "love this",
    "hard disagree",
    "well said",
)
QUOTE_BODIES = (
    "worth a read",
    "this right here",
    "read this thread",
    "important",
    "can't stop laughing",
    "wow",
    "yes!!",
    "this is so wrong",
    "finally someone said it",
    "everyone should see this",
    "not the take I expected",
    "sharing for visibility",
)

ORGANIC_HASHTAGS = (
    "MondayMotivation",
    "TBT",
    "NowPlaying",
    "Election2024",
    "NBA",
    "PremierLeague",
    "AI",
    "tech",
    "foodie",
    "weather",
    "Oscars",
    "health",
    "travel",
    "gaming",
    "music",
    "news",
    "climate",
    "photography",
    "books",
    "FridayFeeling",
    "nfl",
    "movies",
    "fitness",
    "art",
    "science",
    "startup",
    "coffee",
    "dogsoftwitter",
    "catsoftwitter",
    "love",
    "WorldCup",
    "throwback",
    "TravelTuesday",
    "bookclub",
    "recipe",
    "marketing",
    "jobs",
    "education",
    "crypto",
    "TrueCrime",
)

ORGANIC_DOMAINS = (
    "www.nytimes.com",
    "www.bbc.co.uk",
    "www.theguardian.com",
    "www.youtube.com",
    "www.instagram.com",
    "open.spotify.com",
    "www.washingtonpost.com",
    "www.cnn.com",
    "apnews.com",
    "www.reuters.com",
    "medium.com",
    "github.com",
    "www.espn.com",
    "www.theverge.com",
    "techcrunch.com",
    "en.wikipedia.org",
    "www.npr.org",
    "www.bloomberg.com",
    "www.forbes.com",
    "www.imdb.com",
    "www.eventbrite.com",
    "www.etsy.com",
    "www.twitch.tv",
    "substack.com",
    "www.reddit.com",
    "www.latimes.com",
    "www.wired.com",
    "www.nature.com",
    "www.allrecipes.com",
    "www.weather.com",
)
URL_SECTIONS = ("news", "world", "sports", "tech", "article", "story", "p", "watch", "blog", "video")
SLUG_WORDS = (
    "city",
    "council",
    "vote",
    "team",
    "wins",
    "loses",
    "new",
    "study",
    "finds",
    "storm",
    "update",
    "review",
    "report",
    "plan",
    "budget",
    "school",
    "market",
    "rally",
    "fans",
    "season",
    "launch",
    "record",
    "health",
    "local",
)

# (display name, HTML href); the v1.1/v2 ``source`` field is an HTML anchor.
SOURCES: tuple[tuple[str, str], ...] = (
    ("Twitter for iPhone", "http://twitter.com/download/iphone"),
    ("Twitter for Android", "http://twitter.com/download/android"),
    ("Twitter Web App", "https://mobile.twitter.com"),
    ("Twitter for iPad", "http://twitter.com/#!/download/ipad"),
    ("TweetDeck", "https://about.twitter.com/products/tweetdeck"),
    ("Hootsuite Inc.", "https://www.hootsuite.com"),
    ("Buffer", "https://buffer.com"),
    ("IFTTT", "https://ifttt.com"),
    ("dlvr.it", "https://dlvr.it"),
    ("SocialFlow", "http://www.socialflow.com"),
    ("Twitter Web Client", "http://twitter.com"),
)
SOURCE_INDEX = {name: i for i, (name, _) in enumerate(SOURCES)}
# Organic people mostly post from phones and the web app.
ORGANIC_SOURCE_WEIGHTS = (0.38, 0.33, 0.2, 0.03, 0.03, 0.01, 0.01, 0.005, 0.0, 0.0, 0.005)

# Hourly activity by local hour for people (relative); peaks at lunch and evening, trough at night.
CIRCADIAN = (
    0.45,
    0.28,
    0.17,
    0.11,
    0.09,
    0.12,
    0.25,
    0.5,
    0.75,
    0.85,
    0.9,
    0.95,
    1.0,
    0.95,
    0.9,
    0.9,
    0.92,
    0.95,
    1.0,
    1.08,
    1.15,
    1.1,
    0.9,
    0.68,
)


def _check() -> None:
    bad = set('"\\') | {chr(c) for c in range(32)}
    pools: list[str] = [*FIRST_NAMES, *LAST_NAMES, *BIO_ROLES, *BIO_LIKES, *BIO_TAILS, *VERBS, *OPENERS]
    pools += [*ENDINGS, *REPLY_BODIES, *QUOTE_BODIES, *ORGANIC_HASHTAGS, *ORGANIC_DOMAINS, *SLUG_WORDS]
    pools += [c[0] for c in CITIES] + [c[1] for c in CITIES]
    for subjects, objects in TOPICS.values():
        pools += [*subjects, *objects]
    for word in pools:
        if bad & set(word):
            raise AssertionError(f"vocabulary entry {word!r} is not JSON-safe")


_check()
