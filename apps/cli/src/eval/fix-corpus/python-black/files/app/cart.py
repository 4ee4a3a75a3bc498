def total(items,discount = 0):
    return sum( i['price']*i['qty'] for i in items )*(1-discount)
