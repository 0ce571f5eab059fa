"""Every sentence the bot shows a user about a problem, in one place and one voice."""

UNKNOWN_COMMAND = "There is no command /{name}. Type /help to see the commands."
ADMIN_ONLY = "Only admins can run /{name}. Ask an admin of this server or workspace to do it."
COMMAND_FAILED = (
    "Sorry, /{name} failed on our side (error id {invocation}). "
    "Try again in a moment; if it keeps failing, give an admin that id."
)

ASK_MISSING_QUESTION = "Add a question after /ask, for example: /ask what is a decision boundary?"
FEEDBACK_USAGE = "Use /feedback up ID or /feedback down ID, with the answer number its 👍 and 👎 buttons carry."
FEEDBACK_NO_ANSWER = "There is no answer {answer_id} here to rate; the buttons under an /ask answer carry its number."
INGEST_MISSING_PATH = (
    "Give a file or folder after /ingest, for example: /ingest docs/handbook.pdf, "
    "or attach a file to the command."
)
INGEST_PATH_NOT_FOUND = "No file or folder at {path}. Check the path; relative paths start from {cwd}."
INGEST_QUOTE_SPACES = 'If the path contains spaces, put it in quotes: /ingest "my notes.md".'
INGEST_NO_SOURCE = "Attach a file to /ingest; on this platform a file path is not accepted."
INGEST_DOWNLOAD_FAILED = "the download of the attachment failed ({error}); attach the file again."
INGEST_STOPPED = (
    "Stopped /ingest after {done} of {total} files; the files finished before the stop stay in the "
    "knowledge base (see /docs)."
)
DOCS_REMOVE_MISSING_ID = "Give the document id after /docs remove; /docs lists the ids."
DOCS_ID_NOT_FOUND = "No document with id {doc_id} in this knowledge base; /docs lists the ids."
DOCS_ID_AMBIGUOUS = "The id {doc_id} matches {count} documents ({names}); give more of it."
DOCS_ID_TOO_SHORT = "{doc_id!r} is too short to pick a document safely; give at least {length} characters of its id."
DOCS_BUILTIN = "{name} is a built-in lesson and cannot be removed."
DOCS_UNKNOWN_ACTION = (
    "Unknown /docs action {action!r}. Use /docs to list documents, /docs PAGE for a later page, or /docs remove ID."
)
DOCS_NO_SUCH_PAGE = "There is no page {page} of the document list; it has pages 1 to {count}."

DEMOS_OFF = "Demos are switched off on this bot (DEMOS_ENABLED=false)."
DEMO_UNKNOWN = "There is no demo called {name!r}. /demo lists them: {names}."
DEMO_NOT_SHIPPED = "The {name} demo is planned but not shipped yet. Available now: {names}."
NOT_A_NUMBER = "{args!r} is not a number. Use it like {usage}."
TOO_MANY_NUMBERS = "That is more than {count} number(s). Use it like {usage}."
NO_SUCH_LESSON = "There is no lesson {number}; the lessons are numbered 1 to {count}. /lesson lists them."
NO_SUCH_STEP = "Lesson {lesson} has steps 1 to {count}, so there is no step {step}."
QUIZ_MISSING_NUMBER = "Give the lesson number after /quiz, for example: /quiz 1"
NO_QUIZ = "Lesson {number} has no quiz yet."
NO_SUCH_QUESTION = "There is no quiz question {question}. Start the quiz again with /quiz NUMBER."
NO_SUCH_CHOICE = "Pick one of the choices 1 to {count}."
ANSWER_MISSING_TEXT = "Write your answer after /answer, for example: /answer the loss measures how wrong the model is"
NO_OPEN_QUESTION = "No quiz question is open for you. Start a quiz with /quiz NUMBER, or continue one the same way."
OPEN_QUESTION_IS_CHOICE = "The open quiz question is multiple choice: pick one of its choices instead of using /answer."

# Slack adapter
SLACK_INGEST_HOW = (
    "Slash commands cannot carry files. To add a document, share the file (PDF, DOCX, HTML, Markdown or text) "
    "in a direct message with me, or in a message that mentions me; I reply with the chunks added."
)
SLACK_CANNOT_POST = (
    "I cannot post in this conversation. Invite me to the channel with /invite, "
    "or run the command in a direct message with me."
)
SLACK_FILE_INFO_FAILED = "Slack did not give me the shared file's details ({error}); share the file again."
SLACK_FILE_NO_URL = "Slack sent no download link for this file; share it again as a file upload, not a link."
SLACK_FILE_HTTP_ERROR = "downloading it from Slack failed with HTTP {status}; share the file again."
SLACK_FILE_SIGN_IN_PAGE = (
    "Slack returned a sign-in page instead of the file, so the bot's token cannot read files; "
    "add the files:read scope to the app, reinstall it and share the file again."
)
SLACK_FILE_DOWNLOAD_FAILED = "downloading it from Slack failed ({error}); share the file again."
SLACK_MISSING_TOKENS = (
    "Slack {mode} cannot start: missing {names}. Set each in the environment or .env; "
    "the README's Slack section shows where each token is found."
)
