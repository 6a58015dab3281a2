def greeting():
    return "hello from the quickstart app"
